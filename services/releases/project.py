"""project(event) -> rows of the release tables, by table. Pure.

- `releases`: the whole release after each event (ReplacingMergeTree on the aggregate version);
  a deleted release keeps a row with `deleted` = 1.
- `release_commits`: the commits of each commit set, under the set's aggregate version; the
  release names the set it has now (`commits_version`), so a later set replaces the earlier one
  without deleting rows.
- `commits` and `repositories`: what the organization's repositories list, filled from the
  commits releases name (a repository named for the first time is created).
- `deploys`: each deploy, under the release id (a release deleted and made again starts anew).
Projecting an event twice writes the same rows.
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.releases.state import repository_id
from picket.schemas.releases import Release, ReleaseCommitsSet, ReleaseDeleted, ReleaseDeployed
from picket.schemas.rows import CommitRow, DeployRow, ReleaseCommitRow, ReleaseRow, RepositoryRow

_json = msgspec.json.Encoder()

COLUMNS: dict[str, tuple[str, ...]] = {
    "releases": ReleaseRow._fields,
    "release_commits": ReleaseCommitRow._fields,
    "commits": CommitRow._fields,
    "repositories": RepositoryRow._fields,
    "deploys": DeployRow._fields,
}

Rows = dict[str, list[tuple[Any, ...]]]


def _release_row(event: Any, release: Release, deleted: bool) -> ReleaseRow:
    return ReleaseRow(org_id=release.org_id, version=release.version, release_id=release.id,
                      agg_version=event.meta.version, deleted=int(deleted), status=release.status,
                      date_created=release.date_created, project_ids=list(release.project_ids),
                      body=_json.encode(release).decode())


def project(event: Any) -> Rows:
    release: Release = event.release
    rows: Rows = {"releases": [_release_row(event, release, isinstance(event, ReleaseDeleted))]}
    if isinstance(event, ReleaseCommitsSet):
        org, at = release.org_id, event.meta.timestamp
        rows["release_commits"] = [
            ReleaseCommitRow(org_id=org, version=release.version, commits_version=release.commits_version,
                             position=n, repository=c.repository, commit_id=c.id, body=_json.encode(c).decode())
            for n, c in enumerate(event.commits)
        ]
        rows["commits"] = [CommitRow(org_id=org, repository=c.repository, commit_id=c.id, date_added=at,
                                     body=_json.encode(c).decode()) for c in event.commits]
        names = sorted({c.repository for c in event.commits} | {r.repository for r in event.refs})
        rows["repositories"] = [RepositoryRow(org_id=org, name=name, repository_id=repository_id(org, name),
                                              date_created=at) for name in names]
    elif isinstance(event, ReleaseDeployed):
        d = event.deploy
        rows["deploys"] = [DeployRow(org_id=release.org_id, version=release.version, release_id=release.id,
                                     deploy_id=d.id, environment=d.environment, date_finished=d.date_finished,
                                     body=_json.encode(d).decode())]
    return rows
