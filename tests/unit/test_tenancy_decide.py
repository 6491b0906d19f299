"""Scenarios for `decide`: the single writer of each tenancy aggregate.

Every test builds commands the way the gateway does (with a CommandMeta carrying the command id,
the issuing time and the gateway to answer), folds the accepted events into the state with
`fold`, and checks what the next decision is. No Kafka, no clock, no randomness.
"""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import count

import pytest

from picket.schemas import commands as c
from picket.schemas import events as e
from picket.tenancy.decide import Accepted, Rejected, decide
from picket.tenancy.evolve import fold
from picket.tenancy.state import OrgState, SlugState, UserState, initial_state

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
ORG = 1
ORG_KEY = f"org:{ORG}"
OWNER_MEMBER = 10
OWNER_USER = 100

_ids = count(1)


def meta(command_id: str | None = None, reply_to: str | None = "gw-1") -> c.CommandMeta:
    return c.CommandMeta(
        command_id=command_id or f"cmd-{next(_ids)}",
        issued_at=T0,
        reply_to=reply_to,
    )


def accept(key: str, state, command) -> tuple[object, list]:
    """Decide `command`, insist it is accepted, and return the folded state and the events."""
    decision = decide(key, state, command)
    assert isinstance(decision, Accepted), decision
    return fold(state, decision.events), decision.events


def create_org(**kw) -> c.CreateOrganization:
    args = dict(
        org_id=ORG,
        slug="acme",
        name="Acme",
        owner_user_id=OWNER_USER,
        owner_email="owner@acme.test",
        owner_member_id=OWNER_MEMBER,
    )
    args.update(kw)
    return c.CreateOrganization(meta=meta(), **args)


def create_team(team_id: int, slug: str, creator: int | None = None) -> c.CreateTeam:
    return c.CreateTeam(
        meta=meta(), org_id=ORG, team_id=team_id, slug=slug, name=slug.title(),
        creator_member_id=creator,
    )


def create_project(project_id: int, team_id: int, slug: str, key_id: int) -> c.CreateProject:
    return c.CreateProject(
        meta=meta(), org_id=ORG, team_id=team_id, project_id=project_id, slug=slug,
        name=slug.title(), key_id=key_id, key_public=f"pub{key_id}", key_secret=f"sec{key_id}",
        platform="python",
    )


@pytest.fixture
def org_state() -> OrgState:
    """An organization `acme` with its owner (member 10), nothing else."""
    state, _ = accept(ORG_KEY, initial_state(ORG_KEY), create_org())
    return state


@pytest.fixture
def populated(org_state) -> OrgState:
    """acme with team `backend` (20, joined by the owner) and project `web` (30, key 40)."""
    state, _ = accept(ORG_KEY, org_state, create_team(20, "backend", creator=OWNER_MEMBER))
    state, _ = accept(ORG_KEY, state, create_project(30, 20, "web", key_id=40))
    return state


# --- organizations -----------------------------------------------------------------------------


def test_creating_an_organization_emits_the_organization_and_its_owner_membership():
    decision = decide(ORG_KEY, initial_state(ORG_KEY), create_org())

    assert isinstance(decision, Accepted) and not decision.duplicate
    created, owner = decision.events
    assert isinstance(created, e.OrganizationCreated)
    assert created.organization.id == ORG
    assert created.organization.slug == "acme"
    assert created.organization.date_created == T0
    assert isinstance(owner, e.MemberAdded)
    assert owner.member.id == OWNER_MEMBER
    assert owner.member.role == "owner"
    assert owner.member.user_id == OWNER_USER
    assert owner.member.email == "owner@acme.test"
    assert owner.member.pending is False

    state = fold(initial_state(ORG_KEY), decision.events)
    assert state.organization == created.organization
    assert state.members == {OWNER_MEMBER: owner.member}


def test_creating_an_organization_that_exists_is_a_conflict(org_state):
    decision = decide(ORG_KEY, org_state, create_org())
    assert isinstance(decision, Rejected)
    assert decision.outcome == "conflict"


def test_commands_on_a_non_existent_organization_are_not_found():
    empty = initial_state(ORG_KEY)
    for command in (
        create_team(20, "backend"),
        c.UpdateOrganization(meta=meta(), org_id=ORG, changes={"name": "X"}),
        c.DeleteTeam(meta=meta(), org_id=ORG, team_id=20),
        create_project(30, 20, "web", key_id=40),
        c.AddMember(meta=meta(), org_id=ORG, member_id=11, email="a@b.test", role="member"),
        c.RemoveMember(meta=meta(), org_id=ORG, member_id=OWNER_MEMBER),
    ):
        decision = decide(ORG_KEY, empty, command)
        assert isinstance(decision, Rejected), command
        assert decision.outcome == "not_found", command


def test_updating_an_organization_with_a_known_field_changes_only_that_field(org_state):
    state, events = accept(
        ORG_KEY, org_state,
        c.UpdateOrganization(meta=meta(), org_id=ORG, changes={"name": "Acme Inc."}),
    )
    (updated,) = events
    assert isinstance(updated, e.OrganizationUpdated)
    assert updated.organization.name == "Acme Inc."
    assert updated.organization.slug == "acme"
    assert state.organization.name == "Acme Inc."


def test_updating_an_organization_with_an_unknown_field_is_rejected_not_raised(org_state):
    """A bad `changes` key is the caller's error: decide must answer Rejected, never crash the
    agent that owns the aggregate (an exception would stall every later command of the org)."""
    command = c.UpdateOrganization(meta=meta(), org_id=ORG, changes={"no_such_field": 1})
    decision = decide(ORG_KEY, org_state, command)
    assert isinstance(decision, Rejected)
    assert decision.outcome == "invalid"


# --- teams -------------------------------------------------------------------------------------


def test_creating_a_team_with_a_taken_slug_is_a_conflict(org_state):
    state, _ = accept(ORG_KEY, org_state, create_team(20, "backend"))
    decision = decide(ORG_KEY, state, create_team(21, "backend"))
    assert isinstance(decision, Rejected)
    assert decision.outcome == "conflict"
    assert set(state.teams) == {20}


def test_the_creator_of_a_team_joins_it(org_state):
    state, events = accept(ORG_KEY, org_state, create_team(20, "backend", creator=OWNER_MEMBER))
    assert [type(ev) for ev in events] == [e.TeamCreated, e.MemberUpdated]
    assert state.members[OWNER_MEMBER].team_ids == [20]


def test_renaming_a_team_to_another_teams_slug_is_a_conflict_but_to_its_own_is_accepted(org_state):
    state, _ = accept(ORG_KEY, org_state, create_team(20, "backend"))
    state, _ = accept(ORG_KEY, state, create_team(21, "frontend"))

    taken = decide(ORG_KEY, state, c.UpdateTeam(meta=meta(), org_id=ORG, team_id=21, slug="backend"))
    assert isinstance(taken, Rejected)
    assert taken.outcome == "conflict"

    same = decide(ORG_KEY, state, c.UpdateTeam(meta=meta(), org_id=ORG, team_id=21, slug="frontend",
                                                name="Front"))
    assert isinstance(same, Accepted)
    (updated,) = same.events
    assert isinstance(updated, e.TeamUpdated)
    assert updated.team.slug == "frontend"
    assert updated.team.name == "Front"


def test_deleting_a_team_detaches_it_from_members_and_projects_and_frees_its_slug(populated):
    assert populated.members[OWNER_MEMBER].team_ids == [20]
    assert populated.projects[30].team_ids == [20]

    state, events = accept(ORG_KEY, populated, c.DeleteTeam(meta=meta(), org_id=ORG, team_id=20))

    assert [type(ev) for ev in events] == [e.TeamDeletionScheduled, e.MemberUpdated, e.ProjectUpdated]
    assert 20 not in state.teams
    assert 20 in state.deleted_teams
    assert state.members[OWNER_MEMBER].team_ids == []
    assert state.projects[30].team_ids == []

    # The slug of the deleted team is free again.
    state, events = accept(ORG_KEY, state, create_team(22, "backend"))
    assert events[0].team.id == 22
    assert state.teams[22].slug == "backend"


def test_deleting_an_unknown_team_is_not_found(org_state):
    decision = decide(ORG_KEY, org_state, c.DeleteTeam(meta=meta(), org_id=ORG, team_id=999))
    assert isinstance(decision, Rejected) and decision.outcome == "not_found"


# --- projects and keys -------------------------------------------------------------------------


def test_creating_a_project_in_an_unknown_team_is_not_found(org_state):
    decision = decide(ORG_KEY, org_state, create_project(30, 999, "web", key_id=40))
    assert isinstance(decision, Rejected)
    assert decision.outcome == "not_found"


def test_creating_a_project_also_creates_its_default_key(org_state):
    state, _ = accept(ORG_KEY, org_state, create_team(20, "backend"))
    state, events = accept(ORG_KEY, state, create_project(30, 20, "web", key_id=40))

    project_created, key_created = events
    assert isinstance(project_created, e.ProjectCreated)
    assert project_created.project.team_ids == [20]
    assert project_created.project.platform == "python"
    assert isinstance(key_created, e.KeyCreated)
    assert key_created.key.id == 40
    assert key_created.key.project_id == 30
    assert key_created.key.label == "Default"
    assert key_created.key.public == "pub40"
    assert key_created.key.secret == "sec40"
    assert key_created.key.is_active is True
    assert set(state.keys) == {40}


def test_creating_a_project_with_a_taken_slug_is_a_conflict(populated):
    decision = decide(ORG_KEY, populated, create_project(31, 20, "web", key_id=41))
    assert isinstance(decision, Rejected) and decision.outcome == "conflict"


def test_deleting_a_project_deletes_its_keys_and_only_its_keys(populated):
    state, _ = accept(ORG_KEY, populated, create_project(31, 20, "api", key_id=41))
    state, _ = accept(
        ORG_KEY, state,
        c.CreateKey(meta=meta(), org_id=ORG, project_id=30, key_id=42, label="Second",
                    public="pub42", secret="sec42"),
    )
    assert set(state.keys) == {40, 41, 42}

    state, events = accept(ORG_KEY, state, c.DeleteProject(meta=meta(), org_id=ORG, project_id=30))

    assert isinstance(events[0], e.ProjectDeletionScheduled)
    deleted_keys = {ev.key.id for ev in events if isinstance(ev, e.KeyDeleted)}
    assert deleted_keys == {40, 42}
    assert set(state.keys) == {41}
    assert 30 not in state.projects and 30 in state.deleted_projects


def test_updating_a_project_with_an_unknown_field_is_rejected_not_raised(populated):
    """Same rule as for organizations: an unknown field in `changes` is an invalid command."""
    command = c.UpdateProject(meta=meta(), org_id=ORG, project_id=30, changes={"no_such_field": 1})
    decision = decide(ORG_KEY, populated, command)
    assert isinstance(decision, Rejected)
    assert decision.outcome == "invalid"


# --- members -----------------------------------------------------------------------------------


def test_removing_the_only_owner_is_forbidden(org_state):
    decision = decide(ORG_KEY, org_state,
                      c.RemoveMember(meta=meta(), org_id=ORG, member_id=OWNER_MEMBER))
    assert isinstance(decision, Rejected)
    assert decision.outcome == "forbidden"


def test_an_owner_can_be_removed_when_another_owner_remains(org_state):
    state, _ = accept(
        ORG_KEY, org_state,
        c.AddMember(meta=meta(), org_id=ORG, member_id=11, email="second@acme.test", role="owner",
                    user_id=101),
    )
    state, events = accept(ORG_KEY, state,
                           c.RemoveMember(meta=meta(), org_id=ORG, member_id=OWNER_MEMBER))
    assert [type(ev) for ev in events] == [e.MemberRemoved]
    assert set(state.members) == {11}


def test_the_only_owner_cannot_be_demoted_but_others_change_role(org_state):
    demote = decide(ORG_KEY, org_state, c.UpdateMember(meta=meta(), org_id=ORG, member_id=OWNER_MEMBER, role="admin"))
    assert isinstance(demote, Rejected) and demote.outcome == "forbidden"
    state, _ = accept(ORG_KEY, org_state, c.AddMember(meta=meta(), org_id=ORG, member_id=11, email="m@acme.test",
                                                      role="member", user_id=101))
    state, events = accept(ORG_KEY, state, c.UpdateMember(meta=meta(), org_id=ORG, member_id=11, role="admin"))
    assert [(type(ev), ev.member.role) for ev in events] == [(e.MemberUpdated, "admin")]
    _, none = accept(ORG_KEY, state, c.UpdateMember(meta=meta(), org_id=ORG, member_id=11, role="admin"))
    assert none == []  # the role it has: nothing to say
    gone = decide(ORG_KEY, state, c.UpdateMember(meta=meta(), org_id=ORG, member_id=99, role="admin"))
    assert isinstance(gone, Rejected) and gone.outcome == "not_found"


def test_team_members_are_added_removed_and_replaced(populated):
    state, _ = accept(ORG_KEY, populated, c.AddMember(meta=meta(), org_id=ORG, member_id=11, email="m@acme.test",
                                                      role="member"))
    state, events = accept(ORG_KEY, state, c.SetTeamMembers(meta=meta(), org_id=ORG, team_id=20, add=[11]))
    assert [(ev.member.id, ev.member.team_ids) for ev in events] == [(11, [20])]
    state, events = accept(ORG_KEY, state, c.SetTeamMembers(meta=meta(), org_id=ORG, team_id=20,
                                                            remove=[OWNER_MEMBER]))
    assert [(ev.member.id, ev.member.team_ids) for ev in events] == [(OWNER_MEMBER, [])]
    state, events = accept(ORG_KEY, state, c.SetTeamMembers(meta=meta(), org_id=ORG, team_id=20,
                                                            replace=[OWNER_MEMBER]))
    assert sorted((ev.member.id, ev.member.team_ids) for ev in events) == [(OWNER_MEMBER, [20]), (11, [])]
    _, none = accept(ORG_KEY, state, c.SetTeamMembers(meta=meta(), org_id=ORG, team_id=20, add=[OWNER_MEMBER]))
    assert none == []
    for command, outcome in ((c.SetTeamMembers(meta=meta(), org_id=ORG, team_id=99, add=[11]), "not_found"),
                             (c.SetTeamMembers(meta=meta(), org_id=ORG, team_id=20, add=[12345]), "invalid")):
        decision = decide(ORG_KEY, state, command)
        assert isinstance(decision, Rejected) and decision.outcome == outcome


# --- idempotence and determinism ---------------------------------------------------------------


def test_a_command_decided_before_is_a_duplicate_with_no_events(org_state):
    command = create_team(20, "backend")
    state, _ = accept(ORG_KEY, org_state, command)

    again = decide(ORG_KEY, state, command)

    assert again == Accepted([], duplicate=True)


def test_deciding_the_same_command_twice_on_the_same_state_gives_identical_events(populated):
    command = c.DeleteTeam(meta=meta("cmd-delete-backend"), org_id=ORG, team_id=20)

    first = decide(ORG_KEY, populated, command)
    second = decide(ORG_KEY, populated, command)

    assert isinstance(first, Accepted) and isinstance(second, Accepted)
    assert len(first.events) == 3
    assert first.events == second.events
    assert [ev.meta.event_id for ev in first.events] == [
        "cmd-delete-backend:0", "cmd-delete-backend:1", "cmd-delete-backend:2",
    ]
    assert [ev.meta.version for ev in first.events] == [ev.meta.version for ev in second.events]


def test_reply_to_is_set_only_on_the_last_event_of_a_command():
    decision = decide(ORG_KEY, initial_state(ORG_KEY), create_org())
    assert isinstance(decision, Accepted) and len(decision.events) == 2
    assert [ev.meta.reply_to for ev in decision.events] == [None, "gw-1"]


def test_event_versions_continue_from_the_state_version(populated):
    base = populated.version
    assert base == 6  # org + owner, team + creator joins, project + key

    decision = decide(ORG_KEY, populated, c.DeleteTeam(meta=meta(), org_id=ORG, team_id=20))

    assert [ev.meta.version for ev in decision.events] == [base + 1, base + 2, base + 3]
    assert all(ev.meta.aggregate == ORG_KEY for ev in decision.events)
    assert all(ev.meta.timestamp == T0 for ev in decision.events)
    assert fold(populated, decision.events).version == base + 3


# --- organization slug claims ------------------------------------------------------------------


def test_a_slug_claimed_by_one_organization_cannot_be_claimed_by_another_until_released():
    key = "orgslug:acme"
    state = initial_state(key)
    assert isinstance(state, SlugState)

    state, events = accept(key, state, c.ClaimOrganizationSlug(meta=meta(), slug="acme", org_id=1))
    assert [type(ev) for ev in events] == [e.OrganizationSlugClaimed]
    assert state.owner == 1

    taken = decide(key, state, c.ClaimOrganizationSlug(meta=meta(), slug="acme", org_id=2))
    assert isinstance(taken, Rejected) and taken.outcome == "conflict"

    state, events = accept(key, state, c.ReleaseOrganizationSlug(meta=meta(), slug="acme", org_id=1))
    assert [type(ev) for ev in events] == [e.OrganizationSlugReleased]
    assert state.owner is None

    state, events = accept(key, state, c.ClaimOrganizationSlug(meta=meta(), slug="acme", org_id=2))
    assert [type(ev) for ev in events] == [e.OrganizationSlugClaimed]
    assert state.owner == 2


def test_reclaiming_ones_own_slug_is_accepted_without_events():
    key = "orgslug:acme"
    state, _ = accept(key, initial_state(key),
                      c.ClaimOrganizationSlug(meta=meta(), slug="acme", org_id=1))
    again = decide(key, state, c.ClaimOrganizationSlug(meta=meta(), slug="acme", org_id=1))
    assert again == Accepted([])


# --- users and tokens --------------------------------------------------------------------------


def test_creating_a_token_for_a_missing_user_is_not_found():
    key = "user:nobody@acme.test"
    state = initial_state(key)
    assert isinstance(state, UserState)
    decision = decide(
        key, state,
        c.CreateToken(meta=meta(), email="nobody@acme.test", token_id=1, token_hash="h",
                      scopes=["org:read"]),
    )
    assert isinstance(decision, Rejected)
    assert decision.outcome == "not_found"


def test_a_user_gets_a_token_with_deduplicated_sorted_scopes():
    key = "user:jane@acme.test"
    state, _ = accept(key, initial_state(key),
                      c.CreateUser(meta=meta(), user_id=7, email="jane@acme.test", name="Jane"))
    state, events = accept(
        key, state,
        c.CreateToken(meta=meta(), email="jane@acme.test", token_id=1, token_hash="h1",
                      scopes=["project:read", "org:read", "org:read"]),
    )
    (created,) = events
    assert isinstance(created, e.TokenCreated)
    assert created.token.user_id == 7
    assert created.token.scopes == ["org:read", "project:read"]
    assert state.tokens == {1: created.token}

    duplicate_hash = decide(
        key, state,
        c.CreateToken(meta=meta(), email="jane@acme.test", token_id=2, token_hash="h1",
                      scopes=["org:read"]),
    )
    assert isinstance(duplicate_hash, Rejected) and duplicate_hash.outcome == "conflict"


def test_a_command_of_the_wrong_aggregate_kind_is_rejected_as_invalid():
    decision = decide("user:jane@acme.test", initial_state("user:jane@acme.test"), create_org())
    assert isinstance(decision, Rejected) and decision.outcome == "invalid"
