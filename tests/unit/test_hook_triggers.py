"""What hooks and installations are sent: the names of domain events, which targets want a
trigger, and deliveries whose ids are stable per trigger and target."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from picket.integrations.triggers import HOOK_EVENTS, Target, Trigger, app_action, deliveries, hook_name

NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)
PROJECT = {"id": "42", "slug": "web", "name": "Web"}


def _targets() -> list[Target]:
    return [
        Target("service_hook", "a" * 32, 7, 42, "http://h/a", "sa", frozenset({"issue.created"})),
        Target("service_hook", "b" * 32, 7, 43, "http://h/b", "sb", frozenset({"issue.created"})),  # other project
        Target("service_hook", "c" * 32, 8, 42, "http://h/c", "sc", frozenset({"issue.created"})),  # other org
        Target("service_hook", "d" * 32, 7, 42, "http://h/d", "sd", frozenset({"event.created"})),  # other event
        Target("sentry_app", "inst-1", 7, None, "http://app", "cs", frozenset({"issue"})),
        Target("sentry_app", "inst-2", 7, None, "http://app2", "cs2", frozenset({"error"})),
    ]


def test_domain_events_have_hook_names_and_app_actions() -> None:
    assert hook_name({"type": "issue_created"}) == "issue.created"
    assert hook_name({"type": "issue_status_changed", "status": "resolved"}) == "issue.resolved"
    assert hook_name({"type": "issue_status_changed", "status": "weird"}) is None
    assert hook_name({"type": "monitor_environment_status_changed"}) == "monitor.status_changed"
    assert hook_name({"type": "release_deployed"}) == "release.deployed"
    assert hook_name({"type": "issue_user_flags"}) is None and hook_name({}) is None
    named = {hook_name({"type": t}) for t in ("issue_created", "check_in_recorded", "release_created")}
    assert named <= set(HOOK_EVENTS)
    assert app_action("issue.resolved") == ("issue", "resolved") and app_action("event.created") == ("error", "created")
    assert app_action("release.deployed") == ("", "")


def test_a_trigger_goes_to_the_targets_that_want_it_once_each() -> None:
    trigger = Trigger(id="ev-1", org_id=7, project_id=42, name="issue.created", hook_body={"action": "issue.created"},
                      resource="issue", action="created", app_data={"issue": {"id": "9"}})
    made = deliveries(trigger, _targets(), PROJECT, NOW)
    assert [(d.kind, d.target_id) for d in made] == [("service_hook", "a" * 32), ("sentry_app", "inst-1")]
    hook, app = made
    assert json.loads(hook.body) == {"action": "issue.created", "project": PROJECT}
    assert (hook.secret, hook.url, hook.event) == ("sa", "http://h/a", "issue.created")
    assert json.loads(app.body)["data"] == {"issue": {"id": "9"}} and app.resource == "issue"
    assert json.loads(app.body)["installation"] == {"uuid": "inst-1"} and app.event == "issue.created"
    again = deliveries(trigger, _targets(), PROJECT, NOW)
    assert [d.id for d in again] == [d.id for d in made] and len({d.id for d in made}) == 2


def test_a_trigger_for_hooks_only_reaches_no_app() -> None:
    trigger = Trigger(id="ev-2", org_id=7, project_id=42, name="event.created", hook_body={})
    assert [d.target_id for d in deliveries(trigger, _targets(), PROJECT, NOW)] == ["d" * 32]
