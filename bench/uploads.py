"""Uploads: the gateway's memory while it takes large uploads, and their throughput.

Run: `python -m bench.uploads [--size-mib 200] [--file-mib 1024] [--keep]`.

It starts `picket run` on a fresh data directory (embedded Apache Kafka), waits two seconds and
takes the idle RSS of the gateway and of the worker (the median of the samples of those two
seconds), then:

(a) Chunk upload, as sentry-cli uploads an artifact bundle: a random file of `--size-mib` MiB
    (written to the working directory first) is cut into chunks of the advertised `chunkSize`,
    each named by its SHA-1; a first `artifactbundle/assemble/` call (the file's SHA-1 and its
    chunks, the default project) answers `not_found` with the chunks to send; those go as
    multipart parts `file` (filename: the chunk's SHA-1) in requests of at most
    `chunksPerRequest` chunks and `maxRequestSize` bytes (sentry-cli's batching: at least one
    chunk a request), `concurrency` requests in flight (one keep-alive connection per thread,
    as sentry-cli's thread pool). Chunks go uncompressed (sentry-cli would send `file_gzip`
    parts; random bytes do not compress). Then assemble is called again every 0.25 s (sentry-cli:
    every second) until it answers a final state. The file is not a zip: the state reached is
    `error` ("Invalid bundle: ..."), and the figures are the upload's: MiB/s of the chunk
    requests, first request to last answer, and the time from the last answer until assemble
    answered a final state (the worker assembles the whole file before it finds it is no zip).
(b) Release file: a release is created, then a file of `--file-mib` MiB is sent as one
    multipart `POST .../releases/{version}/files/` (fields `name`, then `file`), the body
    generated as it is sent (1 MiB blocks, each a unique 16-byte header and a slice of a 16 MiB
    random pool: no 8 MiB chunk of it repeats) with a Content-Length, never held whole. MiB/s is
    the file's size over the time from the first byte sent to the 201 (which comes once the
    gateway has written the file to the blob store); the time until the last byte was sent is
    printed too. The answer's size and SHA-1 are checked against what was sent.

All along, a thread samples every 0.1 s `/proc/<pid>/status` of the gateway (every
`run/gateway*.pid`, summed) and of the worker (`run/worker.pid`): VmRSS, and RssAnon / RssFile
to tell heap from mapped files. The table gives per phase the peak of each process and the peak
above idle; the target is the gateway's peak during (b) at most 100 MiB above idle. The HTTP
client is the standard library's `http.client` (the benchmark imports only Picket and its
runtime dependencies); requests are streamed from iterables of bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bench import procs
from bench.report import machine

MIB = 1024 * 1024
TARGET_ABOVE_IDLE = 100 * MIB  # the gateway's peak during (b) above its idle RSS
SAMPLE_EVERY = 0.1
POLL_EVERY = 0.25  # assemble polls (sentry-cli: 1 s)
MAX_WAIT = 300.0  # seconds to wait for the assembly's final state
BLOCK = MIB  # what the generated file is sent in
POOL = 16 * MIB  # random bytes the generated file is cut from
FINAL_STATES = ("ok", "error")
ROLES = ("gateway", "worker")


@dataclass
class Options:
    size_mib: int
    file_mib: int
    keep: bool


def parse_args(argv: Sequence[str] | None) -> Options:
    ap = argparse.ArgumentParser(prog="python -m bench.uploads", description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=200, help="size of the chunk-uploaded file (a), MiB")
    ap.add_argument("--file-mib", type=int, default=1024, help="size of the release file (b), MiB")
    ap.add_argument("--keep", action="store_true", help="keep the working directory (logs, data, samples)")
    a = ap.parse_args(argv)
    if a.size_mib <= 0 or a.file_mib <= 0:
        ap.error("sizes must be positive")
    return Options(a.size_mib, a.file_mib, a.keep)


# --- pure parts -----------------------------------------------------------------------------------


def chunk_spans(size: int, chunk_size: int) -> list[tuple[int, int]]:
    """(offset, length) of each chunk of a file of `size` bytes; the last may be shorter."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    return [(offset, min(chunk_size, size - offset)) for offset in range(0, size, chunk_size)]


def batches(sizes: Sequence[int], max_size: int, max_items: int) -> list[range]:
    """Indices of `sizes` in consecutive requests, as sentry-cli batches chunks: each request
    takes items while there are fewer than `max_items` and the next keeps the total within
    `max_size`, but always at least one item (which may exceed `max_size` alone)."""
    if max_items <= 0:
        raise ValueError("max_items must be positive")
    out, start = [], 0
    while start < len(sizes):
        end, total = start, 0
        while end < len(sizes) and end - start < max_items:
            if end > start and total + sizes[end] > max_size:
                break
            total += sizes[end]
            end += 1
        out.append(range(start, end))
        start = end
    return out


def part_head(boundary: str, name: str, filename: str | None = None,
              content_type: str = "application/octet-stream") -> bytes:
    """The delimiter and headers that open a multipart part (its bytes follow)."""
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
    if filename is not None:
        lines.append(f"Content-Type: {content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def multipart(boundary: str, parts: Sequence[tuple[str, str | None, Iterable[bytes], int]]
              ) -> tuple[Iterator[bytes], int]:
    """A multipart/form-data body streamed from `parts` ((name, filename or None, its bytes as
    an iterable, their length)), and its exact length (for Content-Length)."""
    heads = [part_head(boundary, name, filename) for name, filename, _, _ in parts]
    tail = f"--{boundary}--\r\n".encode()
    length = sum(len(h) + size + 2 for h, (_, _, _, size) in zip(heads, parts)) + len(tail)

    def body() -> Iterator[bytes]:
        for head, (_, _, data, _) in zip(heads, parts):
            yield head
            yield from data
            yield b"\r\n"
        yield tail

    return body(), length


def generated_blocks(total: int, pool: bytes, tag: bytes, block: int = BLOCK) -> Iterator[bytes]:
    """`total` bytes in blocks of `block` (the last shorter): each block is a 16-byte header
    (`tag`, 8 bytes, then the block's index) and a slice of `pool` that moves with the index, so
    no two blocks (nor any larger aligned piece) are equal. Nothing but one block is held."""
    if len(tag) != 8 or block <= 16 or len(pool) < block:
        raise ValueError("tag is 8 bytes, block > 16, pool at least a block")
    span = len(pool) - block + 1
    index, sent = 0, 0
    while sent < total:
        size = min(block, total - sent)
        header = (tag + index.to_bytes(8, "big"))[:size]
        start = (index * 1_048_573) % span  # a prime stride: offsets differ block to block
        yield header + pool[start:start + size - len(header)]
        sent += size
        index += 1


def parse_status(text: str) -> dict[str, int]:
    """The memory fields of a `/proc/<pid>/status` (`VmRSS`, `RssAnon`, …), in bytes."""
    out = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        fields = rest.split()
        if sep and len(fields) == 2 and fields[1] == "kB" and fields[0].isdigit():
            out[key] = int(fields[0]) * 1024
    return out


@dataclass(frozen=True)
class Sample:
    at: float
    phase: str
    role: str
    rss: int
    anon: int
    file: int


def peaks(samples: Iterable[Sample]) -> dict[tuple[str, str], Sample]:
    """The sample of highest RSS per (phase, role)."""
    out: dict[tuple[str, str], Sample] = {}
    for s in samples:
        key = (s.phase, s.role)
        if key not in out or s.rss > out[key].rss:
            out[key] = s
    return out


def idle(samples: Iterable[Sample], role: str, phase: str = "idle") -> int:
    """The median RSS of `role` over the samples of `phase` (0 when there are none)."""
    values = [s.rss for s in samples if s.phase == phase and s.role == role]
    return int(statistics.median(values)) if values else 0


@dataclass
class Phase:
    """What one upload phase measured (sizes in bytes, times in seconds)."""

    key: str  # the samples' phase name: "a" or "b"
    name: str
    size: int
    seconds: float | None = None  # first byte sent to last answer
    note: str = ""


def mib(n: float) -> str:
    return f"{n / MIB:,.0f}"


def format_table(phases: Sequence[Phase], samples: Sequence[Sample]) -> str:
    """The RSS table: per phase, each role's idle, peak and peak above idle (MiB), and the
    phase's throughput; then the target's verdict."""
    top = peaks(samples)
    idles = {role: idle(samples, role) for role in ROLES}
    head = ["phase", "gateway idle", "peak", "above idle", "worker idle", "peak", "above idle", "MiB/s", "s"]
    rows = []
    for p in phases:
        row = [p.name]
        for role in ROLES:
            peak = top.get((p.key, role))
            row += [mib(idles[role]), mib(peak.rss) if peak else "-",
                    f"{(peak.rss - idles[role]) / MIB:+,.0f}" if peak else "-"]
        row += [f"{p.size / MIB / p.seconds:,.1f}" if p.seconds else "-", f"{p.seconds:.1f}" if p.seconds else "-"]
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for p in phases:
        if p.note:
            lines.append(f"{p.name}: {p.note}")
        peak = top.get((p.key, "gateway"))
        if peak:
            lines.append(f"  gateway at its peak: RssAnon {mib(peak.anon)} MiB, RssFile {mib(peak.file)} MiB")
    verdict = target(phases, samples)
    if verdict:
        lines.append(verdict)
    return "\n".join(lines)


def target(phases: Sequence[Phase], samples: Sequence[Sample]) -> str:
    """The target's line: the gateway's peak during (b) ≤ 100 MiB above idle."""
    b = next((p for p in phases if p.key == "b"), None)
    peak = peaks(samples).get(("b", "gateway"))
    if b is None or peak is None:
        return ""
    above = peak.rss - idle(samples, "gateway")
    return (f"target: gateway ≤ {TARGET_ABOVE_IDLE // MIB} MiB above idle during (b): {above / MIB:+,.0f} MiB → "
            + ("met" if above <= TARGET_ABOVE_IDLE else "MISSED"))


# --- sampling -------------------------------------------------------------------------------------


def read_status(pid: int) -> dict[str, int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return parse_status(f.read())
    except OSError:
        return {}


def role_pids(run_dir: Path) -> dict[str, list[int]]:
    """The gateway processes (`gateway.pid`, `gateway-N.pid`) and the worker, from their pid files."""
    out: dict[str, list[int]] = {role: [] for role in ROLES}
    for path in sorted(run_dir.glob("*.pid")):
        role = "gateway" if path.stem.startswith("gateway") else path.stem
        if role in out:
            try:
                out[role].append(int(path.read_text()))
            except (OSError, ValueError):
                pass
    return out


class Sampler:
    """Samples the roles' memory every `interval` s on a thread, tagged with the current phase;
    re-reads the pid files each time (a restarted child shows as a pid not in `pids_first`)."""

    def __init__(self, run_dir: Path, interval: float = SAMPLE_EVERY) -> None:
        self.run_dir = run_dir
        self.interval = interval
        self.phase = "idle"
        self.samples: list[Sample] = []
        self.pids_first: dict[str, set[int]] = {}
        self.pids_seen: dict[str, set[int]] = {role: set() for role in ROLES}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        now = time.monotonic()
        for role, pids in role_pids(self.run_dir).items():
            self.pids_first.setdefault(role, set(pids))
            self.pids_seen[role].update(pids)
            fields = [read_status(pid) for pid in pids]
            self.samples.append(Sample(now, self.phase, role, sum(f.get("VmRSS", 0) for f in fields),
                                       sum(f.get("RssAnon", 0) for f in fields),
                                       sum(f.get("RssFile", 0) for f in fields)))

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def last(self, role: str) -> int:
        return next((s.rss for s in reversed(self.samples) if s.role == role), 0)

    def save(self, path: Path) -> None:
        with open(path, "w") as f:
            f.write("t,phase,role,rss,rss_anon,rss_file\n")
            t0 = self.samples[0].at if self.samples else 0.0
            for s in self.samples:
                f.write(f"{s.at - t0:.2f},{s.phase},{s.role},{s.rss},{s.anon},{s.file}\n")


# --- HTTP -----------------------------------------------------------------------------------------


class Http:
    """Requests to Picket's API with the token; one keep-alive connection per thread."""

    def __init__(self, url: str, token: str, timeout: float = 600.0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = token
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return conn

    def request(self, method: str, path: str, body: Iterable[bytes] | bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = self._conn()
        try:
            conn.request(method, path, body=body, headers={"Authorization": f"Bearer {self.token}",
                                                           **(headers or {})})
            answer = conn.getresponse()
            data = answer.read()
        except BaseException:
            conn.close()
            self._local.conn = None
            raise
        if answer.will_close:
            conn.close()
            self._local.conn = None
        return answer.status, data

    def json(self, method: str, path: str, payload: Any = None, expect: tuple[int, ...] = (200, 201)) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.request(method, path, body, {"Content-Type": "application/json"} if body else None)
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {data[:500]!r}")
        return json.loads(data) if data else None


def default_project(api: Http, org: str, dsn: str) -> str:
    """The slug of the project the DSN `picket run` printed belongs to (else the first)."""
    project_id = urlsplit(dsn).path.rstrip("/").rsplit("/", 1)[-1]
    projects = api.json("GET", f"/api/0/organizations/{org}/projects/")
    for p in projects:
        if str(p.get("id")) == project_id:
            return p["slug"]
    return projects[0]["slug"]


# --- (a) chunk upload -----------------------------------------------------------------------------


def random_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            piece = min(8 * MIB, left)
            f.write(os.urandom(piece))
            left -= piece


def chunk_upload(api: Http, sampler: Sampler, org: str, project: str, path: Path) -> Phase:
    size = path.stat().st_size
    phase = Phase("a", f"(a) chunk upload, {size / MIB:,.0f} MiB", size)
    options = api.json("GET", f"/api/0/organizations/{org}/chunk-upload/")
    spans = chunk_spans(size, options["chunkSize"])
    whole = hashlib.sha1(usedforsecurity=False)
    names = []
    with open(path, "rb") as f:
        for offset, length in spans:
            data = os.pread(f.fileno(), length, offset)
            whole.update(data)
            names.append(hashlib.sha1(data, usedforsecurity=False).hexdigest())
    checksum = whole.hexdigest()
    assemble = {"checksum": checksum, "chunks": names, "projects": [project]}
    assemble_path = f"/api/0/organizations/{org}/artifactbundle/assemble/"
    first = api.json("POST", assemble_path, assemble)
    missing = set(first.get("missingChunks") or [])
    todo = [i for i, name in enumerate(names) if name in missing]
    groups = batches([spans[i][1] for i in todo], options["maxRequestSize"], options["chunksPerRequest"])
    upload_path = urlsplit(options["url"]).path or f"/api/0/organizations/{org}/chunk-upload/"
    fd = os.open(path, os.O_RDONLY)

    def send(group: range) -> None:
        boundary = secrets.token_hex(16)
        parts = []
        for j in group:
            offset, length = spans[todo[j]]
            parts.append(("file", names[todo[j]], [os.pread(fd, length, offset)], length))
        body, length = multipart(boundary, parts)
        status, data = api.request("POST", upload_path, body, {
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length)})
        if status != 200:
            raise RuntimeError(f"chunk upload: {status} {data[:500]!r}")

    sampler.phase = "a"
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=options["concurrency"]) as pool:
            for _ in pool.map(send, groups):
                pass
        uploaded = time.monotonic()
        answer = first
        while True:
            answer = api.json("POST", assemble_path, assemble)
            if answer.get("state") in FINAL_STATES or time.monotonic() - uploaded > MAX_WAIT:
                break
            time.sleep(POLL_EVERY)
        final = time.monotonic()
    finally:
        sampler.phase = "after a"
        os.close(fd)
    phase.seconds = uploaded - started
    detail = answer.get("detail") or ""
    phase.note = (f"{len(spans)} chunks of {options['chunkSize'] / MIB:g} MiB ({len(todo)} missing at first) "
                  f"in {len(groups)} request(s) of ≤ {options['chunksPerRequest']} chunks and "
                  f"≤ {options['maxRequestSize'] / MIB:g} MiB, {options['concurrency']} in flight; "
                  f"assemble answered {answer.get('state')!r}"
                  + (f" ({detail[:80]})" if detail else "")
                  + f" {final - uploaded:.1f} s after the last chunk")
    return phase


# --- (b) release file -----------------------------------------------------------------------------


def release_file(api: Http, sampler: Sampler, org: str, project: str, size: int) -> Phase:
    phase = Phase("b", f"(b) release file, {size / MIB:,.0f} MiB", size)
    version = f"bench-uploads-{secrets.token_hex(4)}"
    api.json("POST", f"/api/0/organizations/{org}/releases/", {"version": version, "projects": [project]})
    pool, tag = os.urandom(POOL), secrets.token_bytes(8)
    whole = hashlib.sha1(usedforsecurity=False)
    sent_at: list[float] = []

    def data() -> Iterator[bytes]:
        for block in generated_blocks(size, pool, tag):
            whole.update(block)
            yield block
        sent_at.append(time.monotonic())

    boundary = secrets.token_hex(16)
    name = b"~/bench/upload.bin"
    body, length = multipart(boundary, [("name", None, [name], len(name)), ("file", "upload.bin", data(), size)])
    sampler.phase = "b"
    started = time.monotonic()
    try:
        status, answer = api.request("POST", f"/api/0/organizations/{org}/releases/{quote(version, safe='')}/files/",
                                     body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                            "Content-Length": str(length)})
        answered = time.monotonic()
    finally:
        sampler.phase = "after b"
    if status != 201:
        raise RuntimeError(f"release file: {status} {answer[:500]!r}")
    made = json.loads(answer)
    if made.get("size") != size or made.get("sha1") != whole.hexdigest():
        raise RuntimeError(f"release file stored as {made.get('size')} bytes, sha1 {made.get('sha1')}; "
                           f"sent {size}, {whole.hexdigest()}")
    phase.seconds = answered - started
    sent = (sent_at[0] if sent_at else answered) - started
    phase.note = (f"one multipart request (Content-Length {length:,}); body sent in {sent:.1f} s "
                  f"({size / MIB / max(sent, 1e-9):,.1f} MiB/s), 201 {answered - started - sent:.1f} s later; "
                  f"size and SHA-1 of the stored file match")
    return phase


# --- the run --------------------------------------------------------------------------------------


def settle(sampler: Sampler, phase: str, seconds: float) -> None:
    sampler.phase = phase
    time.sleep(seconds)


def run(opts: Options) -> int:
    work = Path(tempfile.mkdtemp(prefix="picket-uploads-bench-"))
    data_dir = work / "picket"
    print(f"work dir {work}", flush=True)
    source = work / "random.bin"
    random_file(source, opts.size_mib * MIB)
    picket = procs.start_picket(data_dir, procs.free_port(), None, "", work / "picket.log")
    print(f"picket run ready in {picket.ready_s:.1f} s", flush=True)
    sampler = Sampler(data_dir / "run").start()
    api = Http(picket.url, picket.token)
    phases: list[Phase] = []
    try:
        settle(sampler, "idle", 2.0)
        sampler.phase = "before a"
        project = default_project(api, picket.org, picket.dsn)
        print(f"idle RSS: gateway {mib(idle(sampler.samples, 'gateway'))} MiB, worker "
              f"{mib(idle(sampler.samples, 'worker'))} MiB; (a) {opts.size_mib} MiB in chunks...", flush=True)
        phases.append(chunk_upload(api, sampler, picket.org, project, source))
        print(f"  {phases[-1].note}", flush=True)
        settle(sampler, "after a", 2.0)
        print(f"(b) {opts.file_mib} MiB release file (gateway at {mib(sampler.last('gateway'))} MiB)...", flush=True)
        phases.append(release_file(api, sampler, picket.org, project, opts.file_mib * MIB))
        print(f"  {phases[-1].note}", flush=True)
        settle(sampler, "after b", 2.0)
    finally:
        sampler.stop()
        picket.sampler.stop()
        procs.stop(picket.proc)
        if opts.keep:
            sampler.save(work / "rss.csv")
            print(f"kept {work} (RSS samples in rss.csv)", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{machine()}; samples every {SAMPLE_EVERY} s; RSS in MiB")
    print(format_table(phases, sampler.samples))
    after = [s for s in sampler.samples if s.phase == "after b" and s.role == "gateway"]
    if after:
        print(f"gateway 2 s after (b): {mib(after[-1].rss)} MiB; whole stack peak {mib(picket.sampler.peak)} MiB")
    restarted = [role for role in ROLES if sampler.pids_seen[role] - sampler.pids_first[role]]
    if restarted:
        print(f"RESTARTED during the run (new pids): {', '.join(restarted)}")
    return 1 if restarted else 0


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    started = time.monotonic()
    code = run(opts)
    print(f"(benchmark took {time.monotonic() - started:.0f} s)", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
