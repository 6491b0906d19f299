"""The tenancy bounded context: organizations, teams, projects, client keys, members, users.

`decide`, `evolve` and `project` are pure functions; the agent and projector around them do I/O.
"""
