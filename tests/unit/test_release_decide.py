"""The releases context's pure functions: what each command decides, how events fold, and the
rows they project."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from picket.decisions import Accepted, Rejected
from picket.releases.decide import decide
from picket.releases.evolve import fold
from picket.releases.project import project
from picket.releases.state import initial_state
from picket.schemas.commands import CommandMeta
from picket.schemas import releases as r

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
KEY = r.release_key(7, "1.0")
_n = iter(range(10**6))


def _meta(at: datetime = T0) -> CommandMeta:
    return CommandMeta(command_id=f"c{next(_n)}", issued_at=at, reply_to="gw", actor_user_id=3)


def _apply(state, command):
    decision = decide(KEY, state, command)
    assert isinstance(decision, Accepted), decision
    return fold(state, decision.events), decision.events


def _created(projects=(1,)):
    return _apply(initial_state(KEY), r.UpsertRelease(meta=_meta(), org_id=7, version="1.0", release_id=99,
                                                       project_ids=projects))


def test_creating_twice_adds_projects_then_is_a_conflict() -> None:
    state, events = _created()
    assert [type(e) for e in events] == [r.ReleaseCreated]
    assert events[-1].meta.reply_to == "gw" and events[0].release.owner_user_id == 3
    state, events = _apply(state, r.UpsertRelease(meta=_meta(), org_id=7, version="1.0", release_id=5,
                                                  project_ids=(2, 1)))
    assert [type(e) for e in events] == [r.ReleaseUpdated] and state.release.project_ids == (1, 2)
    assert state.release.id == 99  # the id of the first creation stays
    again = decide(KEY, state, r.UpsertRelease(meta=_meta(), org_id=7, version="1.0", release_id=6, project_ids=(1,)))
    assert isinstance(again, Rejected) and again.outcome == "conflict" and again.entity_id == 99


def test_a_redelivered_command_decides_nothing_new() -> None:
    state = initial_state(KEY)
    command = r.UpsertRelease(meta=_meta(), org_id=7, version="1.0", release_id=99, project_ids=(1,))
    state, _ = _apply(state, command)
    assert decide(KEY, state, command) == Accepted([], duplicate=True)


def test_finalize_archive_restore() -> None:
    state, _ = _created()
    state, events = _apply(state, r.UpdateRelease(meta=_meta(), org_id=7, version="1.0", date_released=T0))
    assert [type(e) for e in events] == [r.ReleaseFinalized] and state.release.date_released == T0
    state, events = _apply(state, r.UpsertRelease(meta=_meta(), org_id=7, version="1.0", release_id=1,
                                                  status="archived"))
    assert [type(e) for e in events] == [r.ReleaseArchived] and state.release.status == "archived"
    state, events = _apply(state, r.UpdateRelease(meta=_meta(), org_id=7, version="1.0", status="open"))
    assert [type(e) for e in events] == [r.ReleaseRestored]


def test_commits_are_ordered_newest_first_deduplicated_with_their_authors() -> None:
    state, _ = _created()
    commits = (
        r.Commit(id="a", repository="acme/app", author_email="old@x.io", timestamp=T0 - timedelta(days=1)),
        r.Commit(id="b", repository="acme/app", author_name="New", author_email="new@x.io", timestamp=T0),
        r.Commit(id="a", repository="acme/app", timestamp=T0 - timedelta(days=1)),
    )
    state, events = _apply(state, r.UpdateRelease(meta=_meta(), org_id=7, version="1.0", commits=commits))
    (commits_set,) = events
    assert [c.id for c in commits_set.commits] == ["b", "a"]
    assert state.release.commit_count == 2 and state.release.last_commit.id == "b"
    assert [(a.name, a.email) for a in state.release.authors] == [("New", "new@x.io"), ("old", "old@x.io")]
    assert state.release.commits_version == commits_set.meta.version
    rows = project(commits_set)
    assert [row.commits_version for row in rows["release_commits"]] == [commits_set.meta.version] * 2
    assert [row.name for row in rows["repositories"]] == ["acme/app"]


def test_refs_without_commits_record_the_range_and_its_head_commit() -> None:
    state, _ = _created()
    refs = (r.Ref(repository="acme/app", commit="def456", previous_commit="abc123"),)
    state, events = _apply(state, r.UpdateRelease(meta=_meta(), org_id=7, version="1.0", refs=refs))
    assert [c.id for c in events[0].commits] == ["def456"] and state.release.refs == refs
    state, events = _apply(state, r.UpdateRelease(meta=_meta(), org_id=7, version="1.0", refs=()))
    assert state.release.commit_count == 0 and state.release.last_commit is None  # `refs: []` clears


def test_a_repeated_deploy_is_a_conflict_and_deploys_keep_a_release() -> None:
    state, _ = _created(projects=(1,))
    deploy = r.Deploy(id=11, environment="prod", date_finished=T0, project_ids=(2,))
    state, events = _apply(state, r.CreateDeploy(meta=_meta(), org_id=7, version="1.0", deploy=deploy))
    assert state.release.deploy_count == 1 and state.release.last_deploy == deploy
    assert state.release.project_ids == (1, 2)  # the deploy's project joins the release
    assert project(events[0])["deploys"][0].deploy_id == 11
    retry = decide(KEY, state, r.CreateDeploy(meta=_meta(), org_id=7, version="1.0",
                                              deploy=r.Deploy(id=12, environment="prod", date_finished=T0, project_ids=(2,))))
    assert isinstance(retry, Rejected) and retry.outcome == "conflict" and retry.entity_id == 11
    refused = decide(KEY, state, r.DeleteRelease(meta=_meta(), org_id=7, version="1.0"))
    assert isinstance(refused, Rejected) and refused.outcome == "invalid"


def test_deleted_release_is_gone_and_can_be_made_anew() -> None:
    state, _ = _created()
    state, events = _apply(state, r.DeleteRelease(meta=_meta(), org_id=7, version="1.0"))
    assert state.release is None and project(events[0])["releases"][0].deleted == 1
    missing = decide(KEY, state, r.UpdateRelease(meta=_meta(), org_id=7, version="1.0", ref="x"))
    assert isinstance(missing, Rejected) and missing.outcome == "not_found"
    state, events = _apply(state, r.UpsertRelease(meta=_meta(), org_id=7, version="1.0", release_id=100))
    assert isinstance(events[0], r.ReleaseCreated) and state.release.id == 100


def test_folding_an_event_twice_changes_nothing() -> None:
    state, events = _created()
    assert fold(state, events) == state
