"""The artifacts context's pure functions: what each command decides (release files unique by
name and dist, bundles gaining projects, debug files kept once per checksum and debug id), how
events fold, the rows they project, and the aggregate each command goes to."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from picket.artifacts.decide import NAME_TAKEN, NOT_FOUND, decide
from picket.artifacts.evolve import evolve, fold
from picket.artifacts.project import COLUMNS, project
from picket.artifacts.state import ArtifactState, dif_key, initial_state
from picket.decisions import Accepted, Rejected
from picket.schemas import artifacts as a
from picket.schemas.commands import CommandMeta
from picket.schemas.rows import (
    ArtifactBundleRow,
    ArtifactIndexRow,
    AssembleStatusRow,
    BlobGcRow,
    BlobRefRow,
    DebugFileRow,
    ReleaseFileRow,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
ORG = 7
FILES_KEY = a.release_files_key(ORG, "1.0")
BUNDLE_KEY = a.bundle_key(ORG, "b" * 40)
DIFS_KEY = a.debug_files_key(ORG, 3)
_n = iter(range(10**6))


def _meta(at: datetime = T0) -> CommandMeta:
    return CommandMeta(command_id=f"c{next(_n)}", issued_at=at, reply_to="gw", actor_user_id=3)


def _ref(sha1: str, *chunks: str) -> a.FileRef:
    return a.FileRef(sha1=sha1, size=10 * len(chunks), chunks=chunks or (sha1,))


def _release_file(id: int, name: str = "~/app.js", dist: str | None = None,
                  file: a.FileRef | None = None) -> a.ReleaseFile:
    return a.ReleaseFile(id=id, org_id=ORG, release="1.0", name=name, dist=dist,
                         file=file or _ref(f"f{id}", f"k{id}"), date_created=T0)


def _debug_file(id: int, sha1: str = "d1", debug_id: str = "dbg-1", project_id: int = 3) -> a.DebugFile:
    return a.DebugFile(id=id, org_id=ORG, project_id=project_id, debug_id=debug_id, cpu_name="x86_64",
                       object_name="app", file_format="elf", file=_ref(sha1, f"{sha1}c"), date_created=T0)


def _bundle(projects: tuple[int, ...] = (1,)) -> a.ArtifactBundle:
    return a.ArtifactBundle(
        id=55, org_id=ORG, checksum="b" * 40, project_ids=projects, release="1.0", dist="web",
        files=(a.BundleFile(path="files/app.js", type="minified_source", url="~/app.js",
                            debug_id="0" * 8 + "-0000-0000-0000-" + "0" * 12, file=_ref("s1", "x", "y")),
               a.BundleFile(path="files/app.js.map", type="source_map", url="~/app.js.map",
                            file=_ref("s2", "y", "z"))),
        file=_ref("whole", "x", "w"), date_created=T0)


def _apply(key: str, state: ArtifactState, command):
    decision = decide(key, state, command)
    assert isinstance(decision, Accepted), decision
    return fold(state, decision.events), decision.events


def _create(state: ArtifactState, f: a.ReleaseFile):
    return _apply(FILES_KEY, state, a.CreateReleaseFile(meta=_meta(), org_id=ORG, release_file=f))


def _files(*files: a.ReleaseFile) -> ArtifactState:
    state = initial_state(FILES_KEY)
    for f in files:
        state, _ = _create(state, f)
    return state


def _update(file_id: int, **changes) -> a.UpdateReleaseFile:
    return a.UpdateReleaseFile(meta=_meta(), org_id=ORG, release="1.0", file_id=file_id, **changes)


# --- release files


def test_creating_a_release_file_emits_it_stamped_and_keeps_it() -> None:
    f = _release_file(1)
    command = a.CreateReleaseFile(meta=_meta(), org_id=ORG, release_file=f)
    state, events = _apply(FILES_KEY, initial_state(FILES_KEY), command)
    (created,) = events
    assert isinstance(created, a.ReleaseFileCreated) and created.release_file == f
    assert created.meta.version == 1 and created.meta.aggregate == FILES_KEY
    assert created.meta.event_id == f"{command.meta.command_id}:0" and created.meta.reply_to == "gw"
    assert state.release_files == {1: f} and state.version == 1


def test_same_name_and_dist_is_a_conflict_with_sentrys_409_detail() -> None:
    state = _files(_release_file(1, dist="web"))
    decision = decide(FILES_KEY, state, a.CreateReleaseFile(meta=_meta(), org_id=ORG,
                                                            release_file=_release_file(2, dist="web")))
    assert decision == Rejected("conflict", NAME_TAKEN)
    assert NAME_TAKEN == "A file matching this name already exists for the given release"


def test_same_name_without_dist_twice_is_a_conflict() -> None:
    state = _files(_release_file(1))
    decision = decide(FILES_KEY, state, a.CreateReleaseFile(meta=_meta(), org_id=ORG,
                                                            release_file=_release_file(2)))
    assert isinstance(decision, Rejected) and decision.outcome == "conflict"


def test_same_name_with_another_dist_is_another_file() -> None:
    state = _files(_release_file(1, dist="web"))
    state, events = _create(state, _release_file(2, dist="ios"))
    assert [type(e) for e in events] == [a.ReleaseFileCreated]
    state, _ = _create(state, _release_file(3, dist=None))
    assert sorted(state.release_files) == [1, 2, 3]


def test_update_renames_a_file() -> None:
    state = _files(_release_file(1, dist="web"))
    state, events = _apply(FILES_KEY, state, _update(1, name="~/main.js"))
    (updated,) = events
    assert isinstance(updated, a.ReleaseFileUpdated)
    assert updated.release_file.name == "~/main.js" and updated.release_file.dist == "web"  # dist unchanged
    assert state.release_files[1].name == "~/main.js"


def test_update_changes_the_dist_and_keeps_the_name() -> None:
    state = _files(_release_file(1, dist="web"))
    state, events = _apply(FILES_KEY, state, _update(1, dist="ios"))
    assert [e.release_file.dist for e in events] == ["ios"] and state.release_files[1].name == "~/app.js"


def test_update_with_clear_dist_removes_the_dist() -> None:
    state = _files(_release_file(1, dist="web"))
    state, events = _apply(FILES_KEY, state, _update(1, clear_dist=True))
    assert [e.release_file.dist for e in events] == [None] and state.release_files[1].dist is None


def test_update_that_changes_nothing_emits_nothing() -> None:
    state = _files(_release_file(1, dist="web"))
    _, events = _apply(FILES_KEY, state, _update(1, name="~/app.js", dist="web"))
    assert events == []


def test_renaming_onto_an_existing_name_and_dist_is_a_conflict() -> None:
    state = _files(_release_file(1, name="~/a.js", dist="web"), _release_file(2, name="~/b.js", dist="web"))
    assert decide(FILES_KEY, state, _update(2, name="~/a.js")) == Rejected("conflict", NAME_TAKEN)
    # clearing the dist onto a dist-less file of that name is one too
    state = _files(_release_file(1, name="~/a.js"), _release_file(2, name="~/a.js", dist="web"))
    assert decide(FILES_KEY, state, _update(2, clear_dist=True)) == Rejected("conflict", NAME_TAKEN)


def test_update_or_delete_of_an_unknown_file_is_not_found() -> None:
    state = _files(_release_file(1))
    assert decide(FILES_KEY, state, _update(99, name="x")) == Rejected("not_found", NOT_FOUND)
    delete = a.DeleteReleaseFile(meta=_meta(), org_id=ORG, release="1.0", file_id=99)
    assert decide(FILES_KEY, state, delete) == Rejected("not_found", NOT_FOUND)


def test_delete_emits_the_file_as_it_was_and_frees_its_name() -> None:
    f = _release_file(1, dist="web")
    state = _files(f, _release_file(2, name="~/other.js"))
    state, events = _apply(FILES_KEY, state, a.DeleteReleaseFile(meta=_meta(), org_id=ORG, release="1.0", file_id=1))
    assert [type(e) for e in events] == [a.ReleaseFileDeleted] and events[0].release_file == f
    assert sorted(state.release_files) == [2]
    state, events = _create(state, _release_file(3, dist="web"))  # the same name and dist again
    assert [type(e) for e in events] == [a.ReleaseFileCreated]


def test_a_deleted_release_takes_the_files_made_up_to_its_deletion_and_no_later_ones() -> None:
    older = _release_file(1)
    at_deletion = msgspec.structs.replace(_release_file(2, name="~/b.js"), date_created=T0 + timedelta(minutes=1))
    later = msgspec.structs.replace(_release_file(3, name="~/c.js"), date_created=T0 + timedelta(minutes=2))
    state = _files(later, older, at_deletion)
    cleanup = a.DeleteReleaseFiles(meta=_meta(), org_id=ORG, release="1.0", before=T0 + timedelta(minutes=1))
    assert a.command_key(cleanup) == FILES_KEY
    state, events = _apply(FILES_KEY, state, cleanup)
    assert [(type(e), e.release_file) for e in events] == [(a.ReleaseFileDeleted, older),
                                                           (a.ReleaseFileDeleted, at_deletion)]
    assert list(state.release_files) == [3], "a file of the release made again since stays"
    assert decide(FILES_KEY, state, cleanup) == Accepted([], duplicate=True)
    again = msgspec.structs.replace(cleanup, meta=_meta())  # one the aggregate forgot: nothing new
    assert decide(FILES_KEY, state, again) == Accepted([])


def test_a_deleted_release_without_files_is_nothing_to_do() -> None:
    cleanup = a.DeleteReleaseFiles(meta=_meta(), org_id=ORG, release="1.0", before=T0)
    assert decide(FILES_KEY, initial_state(FILES_KEY), cleanup) == Accepted([])


def test_a_command_decided_before_is_a_duplicate_with_no_events() -> None:
    command = a.CreateReleaseFile(meta=_meta(), org_id=ORG, release_file=_release_file(1))
    state, _ = _apply(FILES_KEY, initial_state(FILES_KEY), command)
    assert decide(FILES_KEY, state, command) == Accepted([], duplicate=True)
    # even one that would now be refused (the file it deleted is gone)
    delete = a.DeleteReleaseFile(meta=_meta(), org_id=ORG, release="1.0", file_id=1)
    state, _ = _apply(FILES_KEY, state, delete)
    assert decide(FILES_KEY, state, delete) == Accepted([], duplicate=True)


# --- bundles


def _register(state: ArtifactState, bundle: a.ArtifactBundle):
    return _apply(BUNDLE_KEY, state, a.RegisterBundle(meta=_meta(), org_id=ORG, bundle=bundle))


def test_registering_a_bundle_the_first_time_emits_it() -> None:
    bundle = _bundle((1,))
    state, events = _register(initial_state(BUNDLE_KEY), bundle)
    assert [type(e) for e in events] == [a.BundleRegistered] and events[0].bundle == bundle
    assert state.bundle == bundle


def test_registering_it_again_for_the_same_projects_emits_nothing() -> None:
    state, _ = _register(initial_state(BUNDLE_KEY), _bundle((1, 2)))
    decision = decide(BUNDLE_KEY, state, a.RegisterBundle(meta=_meta(), org_id=ORG, bundle=_bundle((2,))))
    assert decision == Accepted([])  # not a duplicate command: a new one with nothing to add


def test_registering_it_for_a_new_project_emits_the_union_of_projects() -> None:
    state, _ = _register(initial_state(BUNDLE_KEY), _bundle((1, 4)))
    again = msgspec.structs.replace(_bundle((2, 4)), id=999)  # another assembly of the same bytes
    state, events = _register(state, again)
    (registered,) = events
    assert isinstance(registered, a.BundleRegistered)
    assert registered.bundle.project_ids == (1, 2, 4)
    assert registered.bundle.id == 55  # the bundle first registered is kept, only gaining projects
    assert state.bundle.project_ids == (1, 2, 4) and registered.meta.version == 2


# --- debug files


def _register_difs(state: ArtifactState, *files: a.DebugFile, checksum: str = "up1"):
    return _apply(DIFS_KEY, state, a.RegisterDebugFiles(meta=_meta(), org_id=ORG, project_id=3,
                                                        checksum=checksum, files=files))


def test_registering_debug_files_emits_one_created_event_each() -> None:
    state, events = _register_difs(initial_state(DIFS_KEY), _debug_file(1, debug_id="x"), _debug_file(2, debug_id="y"))
    assert [type(e) for e in events] == [a.DebugFileCreated] * 2
    assert [e.meta.version for e in events] == [1, 2] and all(e.checksum == "up1" for e in events)
    assert [e.meta.reply_to for e in events] == [None, "gw"]  # the caller is answered on the last only
    assert sorted(state.debug_files) == [1, 2]
    assert state.debug_file_keys == {dif_key("d1", "x"): 1, dif_key("d1", "y"): 2}


def test_a_debug_file_known_by_sha1_and_debug_id_is_not_added_again() -> None:
    state, _ = _register_difs(initial_state(DIFS_KEY), _debug_file(1, sha1="s", debug_id="x"))
    state, events = _register_difs(state, _debug_file(2, sha1="s", debug_id="x"),  # known
                                   _debug_file(3, sha1="s", debug_id="other"),  # other debug id
                                   _debug_file(4, sha1="t", debug_id="x"))  # other file
    assert [e.debug_file.id for e in events] == [3, 4]
    assert sorted(state.debug_files) == [1, 3, 4]


def test_the_same_debug_file_twice_in_one_command_is_kept_once() -> None:
    state, events = _register_difs(initial_state(DIFS_KEY), _debug_file(1, sha1="s", debug_id="x"),
                                   _debug_file(2, sha1="s", debug_id="x"))
    assert [e.debug_file.id for e in events] == [1] and list(state.debug_files) == [1]


def test_registering_only_known_debug_files_emits_nothing() -> None:
    state, _ = _register_difs(initial_state(DIFS_KEY), _debug_file(1))
    _, events = _register_difs(state, _debug_file(2))
    assert events == []


def test_deleting_unknown_debug_files_is_not_found() -> None:
    state, _ = _register_difs(initial_state(DIFS_KEY), _debug_file(1))
    decision = decide(DIFS_KEY, state, a.DeleteDebugFiles(meta=_meta(), org_id=ORG, project_id=3, ids=(8, 9)))
    assert decision == Rejected("not_found", NOT_FOUND)


def test_deleting_known_debug_files_emits_one_deleted_event_each_and_forgets_their_keys() -> None:
    f1, f2, f3 = _debug_file(1, debug_id="x"), _debug_file(2, debug_id="y"), _debug_file(3, debug_id="z")
    state, _ = _register_difs(initial_state(DIFS_KEY), f1, f2, f3)
    state, events = _apply(DIFS_KEY, state, a.DeleteDebugFiles(meta=_meta(), org_id=ORG, project_id=3,
                                                               ids=(1, 77, 3)))
    assert [type(e) for e in events] == [a.DebugFileDeleted] * 2
    assert [e.debug_file for e in events] == [f1, f3]  # the unknown id is skipped
    assert list(state.debug_files) == [2] and state.debug_file_keys == {dif_key("d1", "y"): 2}
    # a deleted one can be uploaded again
    _, events = _register_difs(state, _debug_file(4, debug_id="x"))
    assert [e.debug_file.id for e in events] == [4]


# --- evolve and state


def test_evolve_ignores_an_event_not_newer_than_the_state() -> None:
    state, events = _create(initial_state(FILES_KEY), _release_file(1))
    assert evolve(state, events[0]) is state
    older = msgspec.structs.replace(events[0], release_file=_release_file(5),
                                    meta=msgspec.structs.replace(events[0].meta, version=0))
    assert evolve(state, older) is state and 5 not in state.release_files


def test_evolve_remembers_the_command_of_each_event() -> None:
    command = a.CreateReleaseFile(meta=_meta(), org_id=ORG, release_file=_release_file(1))
    state, _ = _apply(FILES_KEY, initial_state(FILES_KEY), command)
    assert command.meta.command_id in state.recent_commands


@pytest.mark.parametrize("key", [FILES_KEY, BUNDLE_KEY, DIFS_KEY])
def test_initial_state_takes_each_kind_of_key(key: str) -> None:
    assert initial_state(key) == ArtifactState()


@pytest.mark.parametrize("key", ["release:7:1.0", "", "bundles:7:x", "7:release-files:1.0"])
def test_initial_state_refuses_an_unknown_kind_of_key(key: str) -> None:
    with pytest.raises(KeyError):
        initial_state(key)


# --- projection


def test_a_created_release_file_projects_its_row_and_the_chunks_it_holds() -> None:
    f = _release_file(1, dist="web", file=a.FileRef(sha1="whole", size=30, chunks=("c2", "c1", "c2")))
    _, (event,) = _create(initial_state(FILES_KEY), f)
    rows = project(event)
    assert set(rows) == {"release_files", "blob_refs"}  # nothing to sweep
    (row,) = rows["release_files"]
    assert isinstance(row, ReleaseFileRow)
    assert (row.org_id, row.release, row.file_id, row.agg_version, row.deleted) == (ORG, "1.0", 1, 1, 0)
    assert (row.name, row.dist, row.sha1, row.size, row.date_created) == ("~/app.js", "web", "whole", 30, T0)
    assert msgspec.json.decode(row.body, type=a.ReleaseFile) == f
    assert rows["blob_refs"] == [BlobRefRow(sha1="c1", record="release_file:1", deleted=0, at=T0),
                                 BlobRefRow(sha1="c2", record="release_file:1", deleted=0, at=T0)]


def test_a_release_file_without_dist_projects_an_empty_dist() -> None:
    _, (event,) = _create(initial_state(FILES_KEY), _release_file(1, dist=None))
    assert project(event)["release_files"][0].dist == ""


def test_a_deleted_release_file_projects_a_deleted_row_and_its_chunks_to_sweep() -> None:
    later = T0 + timedelta(hours=1)
    state = _files(_release_file(1, file=_ref("w", "c1", "c2")))
    _, (event,) = _apply(FILES_KEY, state, a.DeleteReleaseFile(meta=_meta(later), org_id=ORG, release="1.0",
                                                               file_id=1))
    rows = project(event)
    (row,) = rows["release_files"]
    assert row.deleted == 1 and row.agg_version == 2 and row.file_id == 1
    assert rows["blob_refs"] == [BlobRefRow("c1", "release_file:1", 1, later), BlobRefRow("c2", "release_file:1", 1, later)]
    assert rows["blob_gc"] == [BlobGcRow("c1", later), BlobGcRow("c2", later)]


def test_an_updated_release_file_projects_a_live_row_and_nothing_to_sweep() -> None:
    state = _files(_release_file(1))
    _, (event,) = _apply(FILES_KEY, state, _update(1, name="~/b.js"))
    rows = project(event)
    assert rows["release_files"][0].name == "~/b.js" and rows["release_files"][0].deleted == 0
    assert "blob_gc" not in rows and all(r.deleted == 0 for r in rows["blob_refs"])


def test_a_registered_bundle_projects_the_bundle_its_index_and_its_status() -> None:
    bundle = _bundle((2, 1))
    _, (event,) = _register(initial_state(BUNDLE_KEY), bundle)
    rows = project(event)
    assert set(rows) == {"artifact_bundles", "artifact_index", "blob_refs", "assemble_status"}
    (row,) = rows["artifact_bundles"]
    assert isinstance(row, ArtifactBundleRow)
    assert (row.org_id, row.checksum, row.bundle_id, row.agg_version) == (ORG, "b" * 40, 55, 1)
    assert (row.project_ids, row.release, row.dist) == ([2, 1], "1.0", "web")
    assert msgspec.json.decode(row.body, type=a.ArtifactBundle) == bundle
    index = rows["artifact_index"]
    assert all(isinstance(r, ArtifactIndexRow) for r in index)
    assert [(r.path, r.url, r.type, r.debug_id) for r in index] == [
        ("files/app.js", "~/app.js", "minified_source", bundle.files[0].debug_id),
        ("files/app.js.map", "~/app.js.map", "source_map", ""),
    ]
    assert all((r.bundle_id, r.checksum, r.release, r.dist, r.project_ids) == (55, "b" * 40, "1.0", "web", [2, 1])
               for r in index)
    assert msgspec.json.decode(index[1].body, type=a.BundleFile) == bundle.files[1]
    # the whole upload and each file's chunks, each chunk once
    assert [(r.sha1, r.record, r.deleted) for r in rows["blob_refs"]] == [
        (c, "bundle:55", 0) for c in ("w", "x", "y", "z")]
    assert rows["assemble_status"] == [AssembleStatusRow(org_id=ORG, scope="bundle", checksum="b" * 40,
                                                         state="ok", detail="", at=T0)]


def test_a_created_debug_file_projects_its_row_chunks_and_an_ok_status_for_its_upload() -> None:
    f = _debug_file(1, sha1="s", debug_id="x")
    _, (event,) = _register_difs(initial_state(DIFS_KEY), f, checksum="zipsum")
    rows = project(event)
    (row,) = rows["debug_files"]
    assert isinstance(row, DebugFileRow)
    assert (row.org_id, row.project_id, row.file_id, row.deleted, row.debug_id) == (ORG, 3, 1, 0, "x")
    assert (row.checksum, row.sha1, row.code_id, row.object_name, row.file_format) == ("zipsum", "s", "", "app", "elf")
    assert msgspec.json.decode(row.body, type=a.DebugFile) == f
    assert rows["blob_refs"] == [BlobRefRow("sc", "debug_file:1", 0, T0)]
    assert rows["assemble_status"] == [AssembleStatusRow(ORG, "dif:3", "zipsum", "ok", "", T0)]
    assert "blob_gc" not in rows


def test_a_deleted_debug_file_projects_a_deleted_row_chunks_to_sweep_and_no_status() -> None:
    state, _ = _register_difs(initial_state(DIFS_KEY), _debug_file(1, sha1="s"))
    _, (event,) = _apply(DIFS_KEY, state, a.DeleteDebugFiles(meta=_meta(), org_id=ORG, project_id=3, ids=(1,)))
    rows = project(event)
    assert rows["debug_files"][0].deleted == 1 and rows["debug_files"][0].agg_version == 2
    assert rows["blob_refs"] == [BlobRefRow("sc", "debug_file:1", 1, T0)]
    assert rows["blob_gc"] == [BlobGcRow("sc", T0)]
    assert "assemble_status" not in rows


def test_projecting_an_event_twice_writes_the_same_rows() -> None:
    state = _files(_release_file(1))
    _, (deleted,) = _apply(FILES_KEY, state, a.DeleteReleaseFile(meta=_meta(), org_id=ORG, release="1.0", file_id=1))
    _, (bundle,) = _register(initial_state(BUNDLE_KEY), _bundle())
    _, (dif,) = _register_difs(initial_state(DIFS_KEY), _debug_file(1))
    for event in (deleted, bundle, dif):
        assert project(event) == project(event)


def test_every_projected_row_has_the_columns_of_its_table() -> None:
    state = _files(_release_file(1))
    _, (deleted,) = _apply(FILES_KEY, state, a.DeleteReleaseFile(meta=_meta(), org_id=ORG, release="1.0", file_id=1))
    _, (bundle,) = _register(initial_state(BUNDLE_KEY), _bundle())
    _, (dif,) = _register_difs(initial_state(DIFS_KEY), _debug_file(1))
    for event in (deleted, bundle, dif):
        for table, rows in project(event).items():
            assert all(row._fields == COLUMNS[table] for row in rows), table


# --- command keys


def test_each_command_goes_to_its_aggregate() -> None:
    meta = _meta()
    assert a.command_key(a.CreateReleaseFile(meta=meta, org_id=ORG, release_file=_release_file(1))) \
        == "release-files:7:1.0"
    assert a.command_key(a.UpdateReleaseFile(meta=meta, org_id=ORG, release="2.0", file_id=1)) == "release-files:7:2.0"
    assert a.command_key(a.DeleteReleaseFile(meta=meta, org_id=ORG, release="2.0", file_id=1)) == "release-files:7:2.0"
    assert a.command_key(a.RegisterBundle(meta=meta, org_id=ORG, bundle=_bundle())) == f"bundle:7:{'b' * 40}"
    assert a.command_key(a.RegisterDebugFiles(meta=meta, org_id=ORG, project_id=3, checksum="c", files=())) \
        == "debug-files:7:3"
    assert a.command_key(a.DeleteDebugFiles(meta=meta, org_id=ORG, project_id=4, ids=(1,))) == "debug-files:7:4"


def test_every_command_key_names_a_kind_initial_state_takes() -> None:
    meta = _meta()
    commands = [a.CreateReleaseFile(meta=meta, org_id=ORG, release_file=_release_file(1)),
                a.RegisterBundle(meta=meta, org_id=ORG, bundle=_bundle()),
                a.DeleteDebugFiles(meta=meta, org_id=ORG, project_id=4, ids=(1,))]
    for command in commands:
        assert initial_state(a.command_key(command)) == ArtifactState()


def test_a_command_of_another_context_is_invalid() -> None:
    from picket.schemas import releases as r

    decision = decide(FILES_KEY, initial_state(FILES_KEY), r.DeleteRelease(meta=_meta(), org_id=ORG, version="1.0"))
    assert isinstance(decision, Rejected) and decision.outcome == "invalid"


def test_a_debug_file_id_named_twice_is_deleted_once() -> None:
    state, _ = _register_difs(initial_state(DIFS_KEY), _debug_file(1))
    _, events = _apply(DIFS_KEY, state, a.DeleteDebugFiles(meta=_meta(), org_id=ORG, project_id=3, ids=(1, 1)))
    assert [e.debug_file.id for e in events] == [1]
