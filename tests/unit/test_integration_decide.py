"""The integrations context, pure: service hooks (at most MAX_HOOKS per project), Sentry apps
installed in their organization, external issues linked once per installation and identifier."""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import count

import pytest

from picket.decisions import Accepted, Rejected
from picket.integrations.decide import decide
from picket.integrations.evolve import fold
from picket.integrations.project import COLUMNS, project
from picket.integrations.state import MAX_HOOKS, IntegrationState, initial_state
from picket.schemas import integrations as i
from picket.schemas.commands import CommandMeta

AT = datetime(2026, 12, 6, tzinfo=timezone.utc)
HOOKS = i.hooks_key(7, 42)
APPS = i.apps_key(7)
_ids = count(1)


def _meta() -> CommandMeta:
    return CommandMeta(command_id=f"c{next(_ids)}", issued_at=AT)


def _hook(n: int = 1, events: tuple[str, ...] = ("event.created",)) -> i.ServiceHook:
    return i.ServiceHook(id=f"{n:032x}", org_id=7, project_id=42, url="https://example.com/h", events=events,
                         secret="s" * 64, date_created=AT)


def _apply(key: str, state: IntegrationState, command) -> tuple[IntegrationState, list]:  # type: ignore[no-untyped-def]
    decision = decide(key, state, command)
    assert isinstance(decision, Accepted), decision
    return fold(state, list(decision.events)), list(decision.events)


def _app() -> tuple[i.SentryApp, i.Installation]:
    app = i.SentryApp(uuid="app-1", slug="tracker-abc123", name="Tracker", org_id=7, webhook_url="https://t.example",
                      events=("issue",), client_id="c" * 64, client_secret="x" * 64, date_created=AT)
    return app, i.Installation(uuid="inst-1", app_uuid="app-1", app_slug=app.slug, org_id=7, date_created=AT)


def test_hooks_are_created_updated_deleted_and_limited_per_project() -> None:
    state = initial_state(HOOKS)
    for n in range(MAX_HOOKS):
        state, events = _apply(HOOKS, state, i.CreateHook(meta=_meta(), org_id=7, hook=_hook(n)))
        assert [type(e) for e in events] == [i.HookCreated]
    refused = decide(HOOKS, state, i.CreateHook(meta=_meta(), org_id=7, hook=_hook(99)))
    assert isinstance(refused, Rejected) and refused.outcome == "invalid" and "maximum" in refused.detail
    state, events = _apply(HOOKS, state, i.UpdateHook(meta=_meta(), org_id=7, project_id=42, hook_id=_hook(0).id,
                                                      events=("issue.created", "event.alert")))
    assert events[0].hook.events == ("issue.created", "event.alert") and events[0].hook.url == _hook(0).url
    _, none = _apply(HOOKS, state, i.UpdateHook(meta=_meta(), org_id=7, project_id=42, hook_id=_hook(0).id))
    assert none == []  # nothing changed, nothing said
    state, events = _apply(HOOKS, state, i.DeleteHook(meta=_meta(), org_id=7, project_id=42, hook_id=_hook(0).id))
    assert [type(e) for e in events] == [i.HookDeleted] and _hook(0).id not in state.hooks
    for command in (i.DeleteHook(meta=_meta(), org_id=7, project_id=42, hook_id=_hook(0).id),
                    i.UpdateHook(meta=_meta(), org_id=7, project_id=43, hook_id=_hook(1).id, url="https://x.y")):
        gone = decide(HOOKS, state, command)
        assert isinstance(gone, Rejected) and gone.outcome == "not_found"


def test_a_command_seen_before_makes_no_events() -> None:
    command = i.CreateHook(meta=_meta(), org_id=7, hook=_hook())
    state, _ = _apply(HOOKS, initial_state(HOOKS), command)
    again = decide(HOOKS, state, command)
    assert isinstance(again, Accepted) and again.duplicate and not again.events


def test_apps_install_once_per_slug_and_external_issues_link_once() -> None:
    app, installation = _app()
    state, events = _apply(APPS, initial_state(APPS), i.CreateSentryApp(meta=_meta(), org_id=7, app=app,
                                                                        installation=installation))
    assert [type(e) for e in events] == [i.SentryAppInstalled]
    clash = decide(APPS, state, i.CreateSentryApp(meta=_meta(), org_id=7, app=app, installation=installation))
    assert isinstance(clash, Rejected) and clash.outcome == "conflict"
    linked = i.ExternalIssue(id=5, org_id=7, installation_uuid="inst-1", service_type=app.slug, group_id=9,
                             project_id=42, web_url="https://t.example/1", project="PROJ", identifier="PROJ-1",
                             date_created=AT)
    state, events = _apply(APPS, state, i.LinkExternalIssue(meta=_meta(), org_id=7, external_issue=linked))
    assert events[0].external_issue.display_name == "PROJ#PROJ-1"
    twice = decide(APPS, state, i.LinkExternalIssue(meta=_meta(), org_id=7,
                                                    external_issue=i.ExternalIssue(**{**_fields(linked), "id": 6})))
    assert isinstance(twice, Rejected) and twice.outcome == "conflict"
    unknown = decide(APPS, state, i.LinkExternalIssue(meta=_meta(), org_id=7, external_issue=i.ExternalIssue(
        **{**_fields(linked), "id": 7, "installation_uuid": "nope"})))
    assert isinstance(unknown, Rejected) and unknown.outcome == "not_found"
    state, events = _apply(APPS, state, i.UnlinkExternalIssue(meta=_meta(), org_id=7, installation_uuid="inst-1",
                                                               external_issue_id=5))
    assert [type(e) for e in events] == [i.ExternalIssueUnlinked] and not state.external_issues
    gone = decide(APPS, state, i.UnlinkExternalIssue(meta=_meta(), org_id=7, installation_uuid="inst-1",
                                                     external_issue_id=5))
    assert isinstance(gone, Rejected) and gone.outcome == "not_found"


def _fields(x: i.ExternalIssue) -> dict:
    return {f: getattr(x, f) for f in x.__struct_fields__}


def test_projection_rows_fit_their_columns_and_mark_deletions() -> None:
    state, created = _apply(HOOKS, initial_state(HOOKS), i.CreateHook(meta=_meta(), org_id=7, hook=_hook()))
    _, deleted = _apply(HOOKS, state, i.DeleteHook(meta=_meta(), org_id=7, project_id=42, hook_id=_hook().id))
    for event, flag in ((created[0], 0), (deleted[0], 1)):
        rows = project(event)["service_hooks"]
        assert len(rows[0]) == len(COLUMNS["service_hooks"]) and rows[0][4] == flag
        assert project(event) == project(event)
    app, installation = _app()
    _, installed = _apply(APPS, initial_state(APPS), i.CreateSentryApp(meta=_meta(), org_id=7, app=app,
                                                                       installation=installation))
    rows = project(installed[0])
    assert set(rows) == {"sentry_apps", "sentry_app_installations"}
    assert all(len(r) == len(COLUMNS[table]) for table, rs in rows.items() for r in rs)


def test_unknown_aggregate_kinds_are_refused() -> None:
    with pytest.raises(KeyError):
        initial_state("org:1")
