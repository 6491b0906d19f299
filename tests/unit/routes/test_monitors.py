"""Cron monitors and check-ins routes (services/gateway/routes/monitors.py) on a fake runtime.

Monitors and check-ins live in dicts here, written by the accepted commands as the monitors
agent's projection would."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from picket.schemas import monitors as m
from picket.store import monitors_read
from tests.support.fake_runtime import NOW
from tests.support.gateway_world import World, detail

MONITORS = "/api/0/organizations/acme/monitors/"
MONITOR = MONITORS + "nightly/"
CHECKINS = "/api/0/organization/acme/monitors/nightly/checkins/"
CRON = {"schedule_type": "crontab", "schedule": "0 3 * * *"}
CONFIG = m.MonitorConfig(schedule_type="crontab", schedule="0 3 * * *")


class MonitorStore:
    """The monitors projection of one test: `monitors[(org_id, slug)]`, `check_ins[monitor id]`."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.monitors: dict[tuple[int, str], m.Monitor] = {}
        self.check_ins: dict[int, list[m.CheckIn]] = {}
        rt = world.rt
        rt.answer(monitors_read.monitors, using=lambda org_id: [v for (o, _), v in sorted(self.monitors.items())
                                                                 if o == org_id])
        rt.answer(monitors_read.monitor, using=lambda org_id, slug: self.monitors.get((org_id, slug)))
        rt.answer(monitors_read.monitor_check_in,
                  using=lambda org_id, monitor_id, wanted: self._check_in(monitor_id, wanted))
        rt.answer(monitors_read.check_in, using=lambda org_id, slug, wanted: self._check_in(
            self.monitors[(org_id, slug)].id, wanted) if (org_id, slug) in self.monitors else None)
        rt.answer(monitors_read.check_ins, using=lambda org_id, monitor_id, envs, offset, limit:
                  self.check_ins.get(monitor_id, [])[offset:offset + limit])
        rt.bus.on_accepted = self.apply

    def add(self, slug: str = "nightly", project: Any = None, **fields: Any) -> m.Monitor:
        project = project or self.world.project
        monitor = m.Monitor(id=self.world.rt.new_id(), org_id=project.org_id, project_id=project.id, slug=slug,
                            name=fields.pop("name", slug.title()), config=CONFIG, date_created=NOW, **fields)
        self.monitors[(monitor.org_id, slug)] = monitor
        return monitor

    def _check_in(self, monitor_id: int, wanted: str | None) -> m.CheckIn | None:
        found = [c for c in self.check_ins.get(monitor_id, []) if wanted is None or c.id == wanted]
        return found[-1] if found else None

    def apply(self, command: Any) -> None:
        if isinstance(command, m.UpsertMonitor):
            current = self.monitors.get((command.org_id, command.slug))
            self.monitors[(command.org_id, command.slug)] = m.Monitor(
                id=current.id if current else command.monitor_id, org_id=command.org_id, project_id=command.project_id,
                slug=command.slug, name=command.name, config=command.config, status=command.status, date_created=NOW)
        elif isinstance(command, m.RecordCheckIn):
            if (command.org_id, command.slug) not in self.monitors:
                self.monitors[(command.org_id, command.slug)] = m.Monitor(
                    id=self.world.rt.new_id(), org_id=command.org_id, project_id=command.project_id,
                    slug=command.slug, name=command.slug, config=command.upsert_config, date_created=NOW)
            monitor = self.monitors[(command.org_id, command.slug)]
            check_ins = self.check_ins.setdefault(monitor.id, [])
            check_in_id = command.check_in_id or (check_ins[-1].id if check_ins else "")
            check_ins.append(m.CheckIn(id=check_in_id, monitor_id=monitor.id, environment=command.environment,
                                       status=command.status or "in_progress", date_created=NOW, date_updated=NOW,
                                       duration=command.duration))


@pytest.fixture
def mons(world: World) -> MonitorStore:
    return MonitorStore(world)


def dsn_header(key: Any) -> dict[str, str]:
    return {"Authorization": f"DSN http://{key.public}@picket.test/{key.project_id}"}


def test_list_monitors(world: World, mons: MonitorStore) -> None:
    mons.add("nightly")
    mons.add("hourly", project=world.rt.add_project(world.org, "web"))
    response = world.get(MONITORS)
    assert response.status_code == 200
    assert [(x["slug"], x["project"]["slug"]) for x in response.json()] == [("hourly", "web"), ("nightly", "api")]
    by_project = world.get(MONITORS, params={"project": str(world.project.id)})
    assert [x["slug"] for x in by_project.json()] == ["nightly"]


def test_list_monitors_keeps_only_the_environments_asked_for(world: World, mons: MonitorStore) -> None:
    envs = {name: m.MonitorEnvironment(name=name, status="ok", date_created=NOW) for name in ("prod", "staging")}
    mons.add(environments=envs)
    response = world.get(MONITORS, params={"environment": "prod"})
    assert [e["name"] for e in response.json()[0]["environments"]] == ["prod"]


def test_monitors_statuses(world: World, mons: MonitorStore) -> None:
    mons.add()
    assert world.http.get(MONITORS).status_code == 401
    assert world.get("/api/0/organizations/nope/monitors/").status_code == 404
    assert world.get(MONITORS, token=world.stranger_token).status_code == 403
    assert world.get(MONITOR, token=world.viewer_token).status_code == 200  # org:read reads monitors
    new = {"project": "api", "name": "x", "config": CRON}
    assert world.post(MONITORS, new, token=world.viewer_token).status_code == 403
    assert world.get(MONITORS + "nope/").status_code == 404


def test_create_monitor(world: World, mons: MonitorStore) -> None:
    response = world.post(MONITORS, {"project": "api", "name": " Nightly Job ", "config": CRON})
    assert response.status_code == 201
    [command] = world.rt.bus.commands
    assert isinstance(command, m.UpsertMonitor)
    assert (command.org_id, command.slug, command.project_id, command.name, command.status, command.create_only) == (
        world.org.id, "nightly-job", world.project.id, "Nightly Job", "active", True)
    assert command.config == CONFIG
    assert command.meta.reply_to == "gateway-test"
    body = response.json()
    assert (body["slug"], body["project"]["slug"], body["config"]["schedule"]) == ("nightly-job", "api", "0 3 * * *")


def test_create_monitor_names_the_project_by_id_too(world: World, mons: MonitorStore) -> None:
    response = world.post(MONITORS, {"project": world.project.id, "name": "x", "slug": "job", "config": CRON})
    assert response.status_code == 201
    assert world.rt.bus.commands[0].project_id == world.project.id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "heartbeat"}, 'Invalid type: only "cron_job" is supported.'),
        ({"status": "paused"}, 'Invalid status: "active" or "disabled".'),
        ({"name": " "}, "Invalid name: 1 to 128 characters."),
        ({"config": {}}, "Invalid schedule: a schedule is required."),
        ({"project": "nope"}, "Invalid project: no such project in this organization."),
        ({"slug": "Bad Slug"}, "Invalid slug: lowercase letters, numbers, underscores or hyphens, not only digits."),
        ({"project": -1}, "Invalid request body: Expected `int` >= 0 - at `$.project`"),
    ],
)
def test_create_monitor_refuses_invalid_bodies(world: World, mons: MonitorStore, changes: dict[str, Any],
                                               message: str) -> None:
    response = world.post(MONITORS, {"project": "api", "name": "Nightly", "config": CRON, **changes})
    assert (response.status_code, detail(response)) == (400, message)
    assert world.rt.bus.sent == []


def test_a_taken_monitor_slug_is_a_409(world: World, mons: MonitorStore) -> None:
    world.rt.bus.reject_next("conflict", "A monitor with this slug already exists.")
    response = world.post(MONITORS, {"project": "api", "name": "Nightly", "config": CRON})
    assert (response.status_code, detail(response)) == (409, "A monitor with this slug already exists.")


def test_get_monitor_with_some_environments(world: World, mons: MonitorStore) -> None:
    envs = {name: m.MonitorEnvironment(name=name, status="ok", date_created=NOW) for name in ("prod", "staging")}
    mons.add(environments=envs)
    response = world.get(MONITOR, params={"environment": "staging"})
    assert response.status_code == 200
    assert (response.json()["slug"], [e["name"] for e in response.json()["environments"]]) == ("nightly", ["staging"])


def test_update_monitor_merges_the_config(world: World, mons: MonitorStore) -> None:
    current = mons.add()
    response = world.put(MONITOR, {"project": "api", "name": "Renamed", "config": {"checkin_margin": 5},
                                   "status": "disabled"})
    assert response.status_code == 200
    [command] = world.rt.bus.commands
    assert (command.slug, command.monitor_id, command.name, command.status, command.create_only) == (
        "nightly", current.id, "Renamed", "disabled", False)
    assert command.config == msgspec.structs.replace(CONFIG, checkin_margin=5)
    assert (response.json()["name"], response.json()["status"]) == ("Renamed", "disabled")


def test_a_monitors_slug_cannot_change(world: World, mons: MonitorStore) -> None:
    mons.add()
    response = world.put(MONITOR, {"project": "api", "name": "n", "slug": "other"})
    assert (response.status_code, detail(response)) == (
        400, "A monitor's slug cannot be changed; create a new monitor instead.")
    assert world.rt.bus.sent == []


def test_update_or_delete_an_unknown_monitor_is_404(world: World, mons: MonitorStore) -> None:
    assert world.put(MONITOR, {"project": "api", "name": "n"}).status_code == 404
    assert world.delete(MONITOR).status_code == 404
    assert world.rt.bus.sent == []


def test_delete_monitor_or_some_environments(world: World, mons: MonitorStore) -> None:
    mons.add()
    assert world.delete(MONITOR).status_code == 202
    assert world.delete(MONITOR, params=[("environment", "prod"), ("environment", "dev")]).status_code == 202
    whole, some = world.rt.bus.commands
    assert isinstance(whole, m.DeleteMonitor) and (whole.slug, whole.environments) == ("nightly", [])
    assert some.environments == ["prod", "dev"]


def test_delete_monitor_needs_a_write_scope(world: World, mons: MonitorStore) -> None:
    mons.add()
    assert world.delete(MONITOR, token=world.viewer_token).status_code == 403
    assert world.rt.bus.sent == []


def test_a_check_in_with_a_token(world: World, mons: MonitorStore) -> None:
    mons.add()
    response = world.post(CHECKINS, {"status": "ok", "duration": 1234.5, "environment": "prod"})
    assert response.status_code == 201
    [command] = world.rt.bus.commands
    assert isinstance(command, m.RecordCheckIn)
    assert (command.slug, command.status, command.duration, command.environment, command.latest) == (
        "nightly", "ok", 1234, "prod", False)
    # No project for an existing monitor: the decider checks one only to create a monitor or
    # to keep a DSN to its own project.
    assert (command.project_id, command.upsert_config) == (None, None)
    body = response.json()
    assert (body["id"], body["status"], body["duration"]) == (command.check_in_id, "ok", 1234)


def test_a_check_in_answered_at_decision_is_rendered_from_the_reply_without_reading_it_back(
        world: World, mons: MonitorStore) -> None:
    monitor = mons.add()
    decided = m.CheckIn(id="d" * 32, monitor_id=monitor.id, environment="prod", status="error", date_created=NOW,
                        date_updated=NOW, duration=99)
    world.rt.bus.on_accepted = None  # the projection has not written it yet
    world.rt.bus.decided_check_in = lambda command: decided
    response = world.post(CHECKINS, {"status": "error", "environment": "prod"})
    assert response.status_code == 201
    assert (response.json()["id"], response.json()["status"], response.json()["duration"]) == ("d" * 32, "error", 99)
    assert world.rt.reads_of(monitors_read.monitor_check_in) == []
    assert world.rt.reads_of(monitors_read.check_in) == []


def test_a_check_in_in_progress_carries_no_status(world: World, mons: MonitorStore) -> None:
    mons.add()
    assert world.post(CHECKINS, {"status": "in_progress"}).status_code == 201
    assert (world.rt.bus.commands[0].status, world.rt.bus.commands[0].environment) == (None, "production")


def test_a_check_in_with_the_dsn_answers_only_its_id(world: World, mons: MonitorStore) -> None:
    mons.add()
    response = world.http.post(CHECKINS, json={"status": "ok"}, headers=dsn_header(world.key))
    assert response.status_code == 201
    assert response.json() == {"id": world.rt.bus.commands[0].check_in_id}


def test_a_dsn_check_in_may_create_its_monitor(world: World, mons: MonitorStore) -> None:
    response = world.http.post(CHECKINS, json={"status": "ok", "monitor_config": CRON}, headers=dsn_header(world.key))
    assert response.status_code == 201
    [command] = world.rt.bus.commands
    assert (command.project_id, command.upsert_config) == (world.project.id, CONFIG)


def test_a_check_in_for_no_monitor_without_config_is_404(world: World, mons: MonitorStore) -> None:
    assert world.post(CHECKINS, {"status": "ok"}).status_code == 404
    assert world.rt.bus.sent == []


def test_a_token_check_in_cannot_create_a_monitor_without_a_project(world: World, mons: MonitorStore) -> None:
    response = world.post(CHECKINS, {"status": "ok", "monitor_config": CRON})
    assert (response.status_code, detail(response)) == (
        400, "A new monitor needs a project: create it first or check in with its DSN.")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"status": "done"}, 'Invalid status: "in_progress", "ok" or "error".'),
        ({"duration": -1}, "Invalid duration."),
        ({"monitor_config": {"schedule_type": "crontab", "schedule": "nope"}},
         "Invalid schedule: a crontab has exactly 5 fields (minute hour day-of-month month day-of-week),"
         " got 1 in 'nope'."),
    ],
)
def test_check_ins_refuse_invalid_bodies(world: World, mons: MonitorStore, payload: dict[str, Any],
                                        message: str) -> None:
    mons.add()
    response = world.post(CHECKINS, payload)
    assert (response.status_code, detail(response)) == (400, message)
    assert world.rt.bus.sent == []


def test_dsn_check_in_statuses(world: World, mons: MonitorStore) -> None:
    mons.add()
    unknown = {"Authorization": "DSN http://" + "0" * 32 + "@picket.test/1"}
    response = world.http.post(CHECKINS, json={"status": "ok"}, headers=unknown)
    assert (response.status_code, detail(response)) == (401, "Invalid DSN.")
    other_project_key = world.rt.add_key(world.rt.add_project(world.org, "web"))
    assert world.http.post(CHECKINS, json={"status": "ok"}, headers=dsn_header(other_project_key)).status_code == 403
    other_org_key = world.rt.add_key(world.rt.add_project(world.other, "site"))
    assert world.http.post(CHECKINS, json={"status": "ok"}, headers=dsn_header(other_org_key)).status_code == 403
    assert world.rt.bus.sent == []


def test_update_a_check_in_by_id(world: World, mons: MonitorStore) -> None:
    mons.add()
    check_in_id = "d" * 32
    response = world.put(f"{CHECKINS}DDDDDDDD-DDDD-DDDD-DDDD-DDDDDDDDDDDD/", {"status": "error"})
    assert response.status_code == 200
    [command] = world.rt.bus.commands
    assert (command.check_in_id, command.status, command.latest) == (check_in_id, "error", False)
    assert response.json()["id"] == check_in_id


def test_update_the_latest_check_in(world: World, mons: MonitorStore) -> None:
    mons.add()
    world.post(CHECKINS, {"status": "in_progress"})
    response = world.put(f"{CHECKINS}latest/", {"status": "ok"})
    assert response.status_code == 200
    first, latest = world.rt.bus.commands
    assert (latest.check_in_id, latest.latest) == ("", True)
    assert response.json()["id"] == first.check_in_id


def test_update_a_check_in_with_a_malformed_id_is_404(world: World, mons: MonitorStore) -> None:
    mons.add()
    assert world.put(f"{CHECKINS}nope/", {"status": "ok"}).status_code == 404
    assert world.rt.bus.sent == []


def test_list_check_ins(world: World, mons: MonitorStore) -> None:
    mons.add()
    for _ in range(3):
        world.post(CHECKINS, {"status": "ok"})
    response = world.get(CHECKINS, params={"per_page": "2"})
    assert response.status_code == 200
    ids = [c.check_in_id for c in world.rt.bus.commands]
    assert [c["id"] for c in response.json()] == ids[:2]
    assert 'rel="next"; results="true"' in response.headers["Link"]
    (args, _), = world.rt.reads_of(monitors_read.check_ins)
    assert args[2:] == ([], 0, 3)  # environments, offset, one more than a page


def test_list_check_ins_of_no_monitor_is_404(world: World, mons: MonitorStore) -> None:
    assert world.get(CHECKINS).status_code == 404
    assert world.http.get(CHECKINS).status_code == 401
