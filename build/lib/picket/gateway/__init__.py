"""The HTTP gateway: Sentry's REST API v0 on Starlette. Authenticates, validates shapes, sends
commands and waits for their verdicts, reads projections, renders Sentry's JSON shapes."""
