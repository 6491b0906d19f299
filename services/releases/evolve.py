"""fold(state, events) -> state. Pure; an event not newer than the state (a re-delivery after a
crash) changes nothing."""

from __future__ import annotations

from typing import Any

import msgspec

from picket.releases.state import KNOWN_DEPLOYS, RECENT_COMMANDS, ReleaseState, deploy_key
from picket.schemas.releases import ReleaseDeleted, ReleaseDeployed


def evolve(state: ReleaseState, event: Any) -> ReleaseState:
    if event.meta.version <= state.version:
        return state
    recent = state.recent_commands.add(event.meta.command_id, RECENT_COMMANDS)
    if isinstance(event, ReleaseDeleted):
        return ReleaseState(version=event.meta.version, recent_commands=recent)
    deploys = state.deploys
    if isinstance(event, ReleaseDeployed):
        deploys = {**deploys, deploy_key(event.deploy): event.deploy.id}
        if len(deploys) > KNOWN_DEPLOYS:
            deploys = dict(list(deploys.items())[-KNOWN_DEPLOYS:])
    return msgspec.structs.replace(state, version=event.meta.version, release=event.release, deploys=deploys,
                                   recent_commands=recent)


def fold(state: ReleaseState, events: list[Any]) -> ReleaseState:
    for event in events:
        state = evolve(state, event)
    return state
