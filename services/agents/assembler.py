"""Consumer of `artifacts-assembly`: each job assembles an upload (`picket.artifacts.assembly`)
and sends the artifacts context the command that registers it; an upload that cannot be
assembled is marked `error` with Sentry's detail. The context's projection marks it `ok`.

A job delivered again (a restart before its offset was committed) sends the same command id,
which the context recognises; a bundle or debug file registered already is not assembled again.
The blob store failing pauses the consumer (nothing is marked `error` for an outage).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

from picket.agents.wiring import Wiring
from picket.artifacts.assembly import AssemblyFailed, assemble_bundle, assemble_debug_files
from picket.blobs.store import OUTAGES, BlobStore
from picket.runtime.consumer import BatchConsumer
from picket.runtime.steps import Output, Table, Unavailable
from picket.schemas import topics as t
from picket.schemas.artifacts import (
    AssembleBundle,
    AssembleDebugFile,
    RegisterBundle,
    RegisterDebugFiles,
    assembly_key,
)
from picket.schemas.commands import CommandMeta
from picket.schemas.rows import AssembleStatusRow
from picket.store import artifacts_read
from picket.store.client import Store

log = logging.getLogger(__name__)

STATUS = Table("assemble_status", AssembleStatusRow._fields)


class Assembler:
    def __init__(self, store: Store, blobs: BlobStore, topics: Any, workdir: Path) -> None:
        self._store = store
        self._blobs = blobs
        self._topics = topics
        self._workdir = workdir

    async def process(self, msg: Any) -> Output:
        job = t.ARTIFACTS_ASSEMBLY.decode(msg.value)
        # The job's own identity: a redelivered job sends the command the context saw already.
        meta = CommandMeta(command_id=hashlib.sha1(msg.value).hexdigest(), issued_at=job.requested_at,
                           actor_user_id=job.actor_user_id)
        scope = "bundle" if isinstance(job, AssembleBundle) else f"dif:{job.project_id}"
        now = datetime.now(timezone.utc)
        try:
            command = await asyncio.to_thread(self._assemble, job, meta, now)
        except AssemblyFailed as exc:
            log.info("assembly of %s failed: %s", assembly_key(job), exc.detail)
            return Output().add_rows(STATUS, [AssembleStatusRow(
                org_id=job.org_id, scope=scope, checksum=job.checksum, state="error", detail=exc.detail, at=now)])
        except OUTAGES as exc:
            raise Unavailable(f"blob store: {exc!r}") from exc
        out = Output()
        if command is not None:
            out.records.append(self._topics.record(t.ARTIFACTS_COMMANDS, command))
        return out

    def _assemble(self, job: Any, meta: CommandMeta, now: datetime) -> Any:
        if isinstance(job, AssembleBundle):
            known = artifacts_read.bundle(self._store, job.org_id, job.checksum)
            if known is not None:  # assembled before: only projects it lacks are added
                if set(job.project_ids) <= set(known.project_ids):
                    return None
                more = tuple(sorted(set(known.project_ids) | set(job.project_ids)))
                return RegisterBundle(meta=meta, org_id=job.org_id,
                                      bundle=msgspec.structs.replace(known, project_ids=more))
            bundle = assemble_bundle(self._blobs, job, self._workdir, now)
            return RegisterBundle(meta=meta, org_id=job.org_id, bundle=bundle)
        assert isinstance(job, AssembleDebugFile)
        if artifacts_read.debug_files_of_upload(self._store, job.org_id, job.project_id, job.checksum):
            return None
        found = assemble_debug_files(self._blobs, job, self._workdir, now)
        return RegisterDebugFiles(meta=meta, org_id=job.org_id, project_id=job.project_id, checksum=job.checksum,
                                  files=found)


def assembler_consumer(w: Wiring, blobs: BlobStore) -> BatchConsumer:
    workdir = w.settings.data_dir / "assembly"
    workdir.mkdir(parents=True, exist_ok=True)
    assembler = Assembler(w.store, blobs, w.topics, workdir)
    name = "artifacts-assembler"
    handler = w.items(name, t.ARTIFACTS_ASSEMBLY, assembler.process, outcomes=False)
    # One job at a time: each may read and write hundreds of MiB.
    return w.consumer(name, t.ARTIFACTS_ASSEMBLY, name, handler, max_batch=1)

