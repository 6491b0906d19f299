"""Readiness judged from looks at offsets (services/gateway/readiness.py): a group is idle when
nothing is behind, progressing while its committed offsets move, stuck once a partition has been
behind without moving for the stall time (two looks that far apart, however seldom one looks);
the webhook deliverer gets the span of one delivery's retries on top; the monitors clock; the
report naming what is wrong; and the health endpoints answering with it (services/gateway/health.py)."""

from __future__ import annotations

from typing import Any

import pytest

from picket.bus.topics import Topics
from picket.gateway import readiness as r
from picket.schemas.topics import CONSUMED_TOPICS, HOOK_DELIVERIES, INGEST_EVENTS, ISSUES_COMMANDS
from tests.support.gateway_world import World, make_world

G = "picket-ingest-events"
P0, P1 = ("ingest-events", 0), ("ingest-events", 1)


def look(ends: dict[Any, int], committed: dict[Any, int], group: str = G) -> r.GroupOffsets:
    return r.GroupOffsets(group, ends, committed)


def test_every_registered_group_is_looked_at_with_the_topics_it_reads() -> None:
    groups = r.registered_groups(Topics("t-", "t-picket"))
    declared = {(topic.name, group) for topic in CONSUMED_TOPICS for group in topic.groups}
    assert sum(len(reads) for reads in groups.values()) == len(declared)
    assert groups["t-picket-ingest-events"] == {"t-ingest-events": INGEST_EVENTS.partitions,
                                                "t-issues-commands": ISSUES_COMMANDS.partitions}
    assert groups["t-picket-hooks-deliverer"] == {"t-hook-deliveries": HOOK_DELIVERIES.partitions}
    assert "t-picket" in groups  # the Faust app's own group


def test_a_group_with_nothing_behind_is_idle() -> None:
    progress = r.Progress()
    verdict = progress.judge(look({P0: 10, P1: 0}, {P0: 10}), now=0.0, stall_seconds=60)
    assert (verdict.state, verdict.lag, verdict.stuck) == ("idle", 0, ())
    assert progress.judge(look({P0: 10, P1: 0}, {P0: 10}), now=500.0, stall_seconds=60).state == "idle"


def test_a_group_whose_offsets_move_is_progressing_however_far_behind() -> None:
    progress = r.Progress()
    for n, now in enumerate((0.0, 100.0, 200.0, 300.0)):
        verdict = progress.judge(look({P0: 1000 + n * 100}, {P0: 10 + n}), now=now, stall_seconds=60)
        assert verdict.state == "progressing" and verdict.stalled_seconds == 0


def test_a_group_behind_without_moving_for_the_stall_time_is_stuck_and_named() -> None:
    progress = r.Progress()
    assert progress.judge(look({P0: 50, P1: 7}, {P0: 40, P1: 7}), now=0.0, stall_seconds=60).state == "progressing"
    assert progress.judge(look({P0: 55, P1: 9}, {P0: 40, P1: 9}), now=59.0, stall_seconds=60).state == "progressing"
    verdict = progress.judge(look({P0: 60, P1: 9}, {P0: 40, P1: 9}), now=61.0, stall_seconds=60)
    assert (verdict.state, verdict.lag, verdict.stuck, verdict.stalled_seconds) == ("stuck", 20, (P0,), 61.0)
    assert verdict.problem() == (f"consumer group {G} is stuck: 20 messages behind, no commit for 61 s "
                                 "(ingest-events/0)")
    # It moves again: progressing, and the count starts over.
    verdict = progress.judge(look({P0: 60}, {P0: 41}), now=62.0, stall_seconds=60)
    assert (verdict.state, verdict.stalled_seconds) == ("progressing", 0.0)


def test_a_first_look_never_calls_a_group_stuck() -> None:
    assert r.Progress().judge(look({P0: 50}, {P0: 0}), now=1e6, stall_seconds=60).state == "progressing"


def test_lag_that_appears_after_an_idle_look_counts_from_when_it_was_seen() -> None:
    progress = r.Progress()
    progress.judge(look({P0: 10}, {P0: 10}), now=0.0, stall_seconds=60)  # caught up
    # 100 s later a message waits; the offset is the same, but it was not behind before.
    assert progress.judge(look({P0: 11}, {P0: 10}), now=100.0, stall_seconds=60).state == "progressing"
    assert progress.judge(look({P0: 11}, {P0: 10}), now=161.0, stall_seconds=60).state == "stuck"


def test_nothing_committed_counts_from_the_beginning() -> None:
    progress = r.Progress()
    assert progress.judge(look({P0: 5}, {}), now=0.0, stall_seconds=10).lag == 5
    assert progress.judge(look({P0: 5}, {P0: -1}), now=10.0, stall_seconds=10).state == "stuck"


def test_consumers_check_names_every_stuck_group() -> None:
    progress = r.Progress()
    looks = [look({P0: 9}, {P0: 1}), look({("outcomes", 0): 3}, {("outcomes", 0): 3}, "picket-outcomes"),
             look({("hook-deliveries", 0): 4}, {("hook-deliveries", 0): 2}, "picket-hooks-deliverer")]
    stall = {"picket-hooks-deliverer": 1000.0}.get
    r.judge_consumers(progress, looks, 0.0, lambda g: stall(g, 60.0))
    check = r.judge_consumers(progress, looks, 120.0, lambda g: stall(g, 60.0))
    assert not check.ok
    assert check.detail["stuck"] == [G]  # the deliverer has longer
    assert check.detail["groups"]["picket-outcomes"] == {"state": "idle", "lag": 0}
    assert check.detail["groups"]["picket-hooks-deliverer"]["state"] == "progressing"
    assert check.problems == (f"consumer group {G} is stuck: 8 messages behind, no commit for 120 s (ingest-events/0)",)


def test_the_deliverer_may_hold_a_partition_for_one_deliverys_retries() -> None:
    # 8 tries of at most 10 s (+1), waits 1, 2, 4, ... 64 s between them.
    assert r.hook_delivery_span(attempts=8, timeout=10.0, base=1.0, cap=300.0) == 127 + 8 * 11
    assert r.hook_delivery_span(attempts=20, timeout=1.0, base=1.0, cap=300.0) == (
        1 + 2 + 4 + 8 + 16 + 32 + 64 + 128 + 256 + 300 * 10 + 20 * 2)


def test_the_clock() -> None:
    assert r.judge_clock("manual", False, 1e6, 180, "monitors-clock-tick").ok
    assert r.judge_clock("wall", True, 1e6, 180, "monitors-clock-tick").ok
    assert r.judge_clock("wall", False, 30, 180, "monitors-clock-tick").ok  # just started: the first tick is coming
    late = r.judge_clock("wall", False, 181, 180, "monitors-clock-tick")
    assert not late.ok and late.problems == ("the monitors clock is not ticking: nothing on monitors-clock-tick "
                                             "in the last 180 s",)


def test_the_report_is_ok_only_when_every_check_is() -> None:
    fine = r.report({"broker": r.Check(True, {"brokers": 1}), "store": r.Check(True)})
    assert fine == {"ok": True, "problems": [], "broker": {"ok": True, "brokers": 1}, "store": {"ok": True}}
    wrong = r.report({"broker": r.Check(True), "store": r.Check(False, {}, ("the store does not answer: x",))})
    assert wrong["ok"] is False and wrong["problems"] == ["the store does not answer: x"]


class Looked:
    def __init__(self, report: dict[str, Any]) -> None:
        self.found = report

    async def report(self) -> dict[str, Any]:
        return self.found


@pytest.fixture
def world() -> World:
    return make_world()


def test_liveness_answers_alone(world: World) -> None:
    answer = world.http.get("/_health/")
    assert (answer.status_code, answer.json()) == (200, {"ok": True})


def test_readiness_answers_200_or_503_with_the_report(world: World) -> None:
    assert world.http.get("/_health/ready").status_code == 503  # nothing looks: not ready
    world.http.app.state.readiness = Looked({"ok": True, "problems": []})  # type: ignore[attr-defined]
    assert world.http.get("/_health/ready").json() == {"ok": True, "problems": []}
    assert world.http.get("/_health/?full=1").status_code == 200
    stuck = {"ok": False, "problems": [f"consumer group {G} is stuck: ..."]}
    world.http.app.state.readiness = Looked(stuck)  # type: ignore[attr-defined]
    for path in ("/_health/ready", "/_health/?full=1"):
        answer = world.http.get(path)
        assert (answer.status_code, answer.json()) == (503, stuck)
    assert world.http.get("/_health/").status_code == 200  # liveness does not look
