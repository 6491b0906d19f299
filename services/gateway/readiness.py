"""Whether Picket as a whole is ready, judged from what was observed (pure; the observing is
`picket.gateway.health`'s).

Consumer groups. Every group the topic registry declares (`picket.schemas.topics`) is judged per
partition of the topics it reads: its lag is the end offset less the committed one (nothing
committed counts from 0). A partition is behind when it has lag; it has been *stalled* since the
first look that saw it behind with the committed offset it still has now (a look that finds it
caught up, or its offset moved, starts the count again). A group is `stuck` when a partition of
it has been stalled for `stall_seconds` (`PICKET_HEALTH_STALL_SECONDS`), `progressing` when it is
behind but not stuck, `idle` when nothing is behind. A lagging partition first seen now is not
stuck yet: it takes two looks `stall_seconds` apart to call a group stuck, however seldom one
looks. The webhook deliverer is judged over a longer span (`hook_delivery_span`): one delivery
to a receiver that is down holds its partition's commit while it is retried, by design.

The monitors clock (`PICKET_CLOCK=wall`) ticks once a minute: it is late when no tick was
written within `window` seconds, unless the observer itself started less than that ago.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from picket.bus.topics import Topics
from picket.schemas.topics import CONSUMED_TOPICS, Topic

Partition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class Check:
    """One part of the report: `ok`, what was seen, and what is wrong (one line each)."""

    ok: bool
    detail: Mapping[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def registered_groups(topics: Topics, registry: Sequence[Topic] = CONSUMED_TOPICS) -> dict[str, dict[str, int]]:
    """Each consumer group of the registry (its full name) → the topics it reads (full name →
    partitions)."""
    groups: dict[str, dict[str, int]] = {}
    for topic in registry:
        for group in topic.groups:
            groups.setdefault(topics.group(topic, group), {})[topics.name(topic)] = topic.partitions
    return groups


@dataclass(frozen=True)
class GroupOffsets:
    """One look at a group: each partition's end offset and the group's committed offset (absent
    or negative: none)."""

    group: str
    ends: Mapping[Partition, int]
    committed: Mapping[Partition, int]


@dataclass(frozen=True)
class GroupVerdict:
    group: str
    state: str  # "idle", "progressing" or "stuck"
    lag: int
    stalled_seconds: float  # the longest a partition has been behind without its offset moving
    stuck: tuple[Partition, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "lag": self.lag}
        if self.lag:
            out["stalled_seconds"] = round(self.stalled_seconds, 1)
        if self.stuck:
            out["stuck_partitions"] = [f"{topic}/{partition}" for topic, partition in self.stuck]
        return out

    def problem(self) -> str:
        where = ", ".join(f"{topic}/{partition}" for topic, partition in self.stuck)
        return (f"consumer group {self.group} is stuck: {self.lag} messages behind, no commit for "
                f"{self.stalled_seconds:.0f} s ({where})")


class Progress:
    """What earlier looks saw of each partition of each group, to tell a stalled group from one
    that moves."""

    def __init__(self) -> None:
        # (group, topic, partition) -> (committed offset, behind without moving since: None if caught up)
        self._seen: dict[tuple[str, str, int], tuple[int, float | None]] = {}

    def judge(self, look: GroupOffsets, now: float, stall_seconds: float) -> GroupVerdict:
        lag_total, stalled_most, stuck = 0, 0.0, []
        for (topic, partition), end in sorted(look.ends.items()):
            done = max(look.committed.get((topic, partition), 0), 0)
            lag = max(end - done, 0)
            key = (look.group, topic, partition)
            before = self._seen.get(key)
            if lag == 0:
                since = None
            elif before is None or before[0] != done or before[1] is None:
                since = now  # first seen behind, or it moved: the count starts here
            else:
                since = before[1]
            self._seen[key] = (done, since)
            lag_total += lag
            if since is not None:
                stalled_most = max(stalled_most, now - since)
                if now - since >= stall_seconds:
                    stuck.append((topic, partition))
        state = "stuck" if stuck else "progressing" if lag_total else "idle"
        return GroupVerdict(look.group, state, lag_total, stalled_most, tuple(stuck))


def judge_consumers(progress: Progress, looks: Sequence[GroupOffsets], now: float,
                    stall_seconds: Callable[[str], float]) -> Check:
    verdicts = [progress.judge(look, now, stall_seconds(look.group)) for look in looks]
    stuck = [v for v in verdicts if v.state == "stuck"]
    return Check(not stuck, {"stuck": [v.group for v in stuck], "groups": {v.group: v.as_json() for v in verdicts}},
                 tuple(v.problem() for v in stuck))


def hook_delivery_span(attempts: int, timeout: float, base: float, cap: float) -> float:
    """The longest one webhook delivery may hold its partition: every try timing out, with the
    longest waits between them (`picket.hooks.backoff`)."""
    waits = sum(min(cap, base * 2 ** min(n, 62)) for n in range(max(attempts, 1) - 1))
    return waits + max(attempts, 1) * (timeout + 1.0)


def judge_clock(mode: str, ticked: bool, uptime: float, window: float, topic: str) -> Check:
    """`ticked`: whether a tick was written within the last `window` seconds; `uptime`: seconds
    the observer has been looking."""
    if mode != "wall":
        return Check(True, {"skipped": f"PICKET_CLOCK={mode}: ticks come from outside"})
    if ticked:
        return Check(True, {"ticked_within_seconds": window})
    if uptime < window:
        return Check(True, {"ticked_within_seconds": window, "waiting": "no tick yet since this gateway started"})
    return Check(False, {"ticked_within_seconds": window},
                 (f"the monitors clock is not ticking: nothing on {topic} in the last {window:.0f} s",))


def report(checks: Mapping[str, Check]) -> dict[str, Any]:
    """The readiness report: `ok`, the `problems` (one line each) and every check's detail."""
    return {
        "ok": all(check.ok for check in checks.values()),
        "problems": [problem for check in checks.values() for problem in check.problems],
        **{name: {"ok": check.ok, **check.detail} for name, check in checks.items()},
    }
