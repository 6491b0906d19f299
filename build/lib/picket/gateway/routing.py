"""Which topic and aggregate key every command is sent with: one function, used by every sender."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from picket.schemas import commands as tenancy
from picket.schemas import monitors
from picket.schemas.topics import MONITORS_COMMANDS, TENANCY_COMMANDS
from picket.config import Settings, topic_name


def command_router(settings: Settings) -> Callable[[Any], tuple[str, str]]:
    tenancy_topic = topic_name(settings, TENANCY_COMMANDS)
    monitors_topic = topic_name(settings, MONITORS_COMMANDS)

    def route(command: Any) -> tuple[str, str]:
        if is_monitor_command(command):
            return monitors_topic, monitors.monitor_key(command.org_id, command.slug)
        return tenancy_topic, tenancy.aggregate_key(command)

    return route


def is_monitor_command(command: Any) -> bool:
    """Whether `command` belongs to the monitors context (all others are tenancy commands)."""
    return isinstance(command, monitors.MonitorCommand.__args__)  # type: ignore[attr-defined]
