"""Scenarios for `evolve`/`fold` and the stored form of aggregate states.

`evolve` is how an agent rebuilds its state, possibly from a history that contains events it has
already applied (a re-delivery after a crash); these tests prove such replays change nothing and
that a state survives the trip through its stored bytes.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from picket.schemas import commands as c
from picket.schemas import events as e
from picket.schemas.entities import RateLimit
from picket.tenancy.decide import Accepted, decide
from picket.tenancy.evolve import evolve, fold
from picket.tenancy.state import (
    RECENT_COMMANDS,
    OrgState,
    SlugState,
    UserState,
    initial_state,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
ORG_KEY = "org:1"


def meta(command_id: str) -> c.CommandMeta:
    return c.CommandMeta(command_id=command_id, issued_at=T0, reply_to="gw-1")


def history(key: str, state, commands) -> tuple[object, list]:
    """Decide and fold each command in turn; the final state and every event emitted."""
    emitted = []
    for command in commands:
        decision = decide(key, state, command)
        assert isinstance(decision, Accepted), decision
        emitted.extend(decision.events)
        state = fold(state, decision.events)
    return state, emitted


def org_history() -> tuple[OrgState, list]:
    """acme: owner, team `backend`, project `web` with its key, a rate-limited second key,
    a second member, then the team deleted."""
    return history(ORG_KEY, initial_state(ORG_KEY), [
        c.CreateOrganization(meta=meta("c1"), org_id=1, slug="acme", name="Acme", owner_user_id=100,
                             owner_email="o@acme.test", owner_member_id=10),
        c.CreateTeam(meta=meta("c2"), org_id=1, team_id=20, slug="backend", name="Backend",
                     creator_member_id=10),
        c.CreateProject(meta=meta("c3"), org_id=1, team_id=20, project_id=30, slug="web", name="Web",
                        key_id=40, key_public="pub40", key_secret="sec40"),
        c.CreateKey(meta=meta("c4"), org_id=1, project_id=30, key_id=41, label="Limited",
                    public="pub41", secret="sec41", rate_limit=RateLimit(window=60, count=10)),
        c.AddMember(meta=meta("c5"), org_id=1, member_id=11, email="m@acme.test", role="member",
                    team_ids=[20]),
        c.DeleteTeam(meta=meta("c6"), org_id=1, team_id=20),
    ])


def test_an_event_not_newer_than_the_state_is_ignored():
    """Replaying an event the state already holds (version <= state.version) is a no-op."""
    state, events = org_history()
    assert state.version == len(events)

    for old in events:
        assert evolve(state, old) is state


def test_replaying_a_whole_history_over_its_own_result_changes_nothing():
    state, events = org_history()
    assert fold(state, events) == state
    # A prefix re-delivered after a crash, followed by the rest, also lands on the same state.
    half = len(events) // 2
    replayed = fold(fold(initial_state(ORG_KEY), events[:half + 2]), events[half:])
    assert replayed == state


def test_fold_equals_evolving_step_by_step():
    final, events = org_history()
    state = initial_state(ORG_KEY)
    for event in events:
        state = evolve(state, event)
        assert state.version == event.meta.version
    assert state == fold(initial_state(ORG_KEY), events) == final


def test_evolve_records_each_command_once_in_recent_commands():
    state, events = org_history()
    assert state.recent_commands == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert len(events) > len(state.recent_commands)  # several events per command, one entry


def test_recent_commands_are_bounded_and_keep_the_newest():
    key = "orgslug:acme"
    state = initial_state(key)
    total = RECENT_COMMANDS + 50
    for n in range(1, total + 1):
        event_type = e.OrganizationSlugClaimed if n % 2 else e.OrganizationSlugReleased
        event = event_type(
            meta=e.EventMeta(event_id=f"cmd-{n}:0", aggregate=key, version=n, timestamp=T0,
                             command_id=f"cmd-{n}"),
            slug="acme", org_id=1,
        )
        state = evolve(state, event)
        assert len(state.recent_commands) <= RECENT_COMMANDS

    assert len(state.recent_commands) == RECENT_COMMANDS
    assert state.recent_commands == [f"cmd-{n}" for n in range(total - RECENT_COMMANDS + 1, total + 1)]
    # The oldest commands are forgotten; the newest are still answered as duplicates.
    assert "cmd-1" not in state.recent_commands
    latest = c.ReleaseOrganizationSlug(meta=meta(f"cmd-{total}"), slug="acme", org_id=1)
    assert decide(key, state, latest) == Accepted([], duplicate=True)


def test_an_organization_event_on_a_user_state_is_refused():
    _, events = org_history()
    with pytest.raises(AssertionError):
        evolve(initial_state("user:x@acme.test"), events[0])


# --- stored form --------------------------------------------------------------------------------


def _user_state() -> UserState:
    key = "user:jane@acme.test"
    state, _ = history(key, initial_state(key), [
        c.CreateUser(meta=meta("u1"), user_id=7, email="jane@acme.test", name="Jane"),
        c.CreateToken(meta=meta("u2"), email="jane@acme.test", token_id=1, token_hash="h1",
                      scopes=["org:read"], name="ci", org_id=1),
    ])
    return state


def _slug_state() -> SlugState:
    key = "orgslug:acme"
    state, _ = history(key, initial_state(key), [
        c.ClaimOrganizationSlug(meta=meta("s1"), slug="acme", org_id=1),
    ])
    return state
