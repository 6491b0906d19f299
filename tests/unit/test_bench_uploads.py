"""The upload benchmark's pure parts: chunks and their batching, multipart bodies, the generated
file, /proc parsing and the RSS table."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from starlette.requests import Request

from bench import uploads
from bench.uploads import MIB, Phase, Sample
from picket.gateway.uploads import read_form

STATUS = """Name:\tpython
Umask:\t0077
State:\tS (sleeping)
VmPeak:\t 1234568 kB
VmRSS:\t   70000 kB
RssAnon:\t   50000 kB
RssFile:\t   19000 kB
RssShmem:\t    1000 kB
Threads:\t12
voluntary_ctxt_switches:\t42
"""


def test_chunk_spans_cover_the_file_the_last_shorter() -> None:
    assert uploads.chunk_spans(20, 8) == [(0, 8), (8, 8), (16, 4)]
    assert uploads.chunk_spans(16, 8) == [(0, 8), (8, 8)]
    assert uploads.chunk_spans(0, 8) == []
    with pytest.raises(ValueError):
        uploads.chunk_spans(10, 0)


def test_batches_as_sentry_cli_at_least_one_item_within_both_limits() -> None:
    # sentry-cli's own example (BatchedSliceExt::batches(5, 3)).
    assert [list(r) for r in uploads.batches([5, 10, 1, 1, 1, 1], 5, 3)] == [[0], [1], [2, 3, 4], [5]]
    assert uploads.batches([], 5, 3) == []


def test_batches_of_a_200_mib_file_under_picket_options() -> None:
    sizes = [s for _, s in uploads.chunk_spans(200 * MIB, 8 * MIB)]
    groups = uploads.batches(sizes, 32 * MIB, 64)
    assert [len(g) for g in groups] == [4] * 6 + [1]
    assert [i for g in groups for i in g] == list(range(25))
    assert all(sum(sizes[i] for i in g) <= 32 * MIB for g in groups)
    small = uploads.batches([1] * 130, 32 * MIB, 64)  # the chunk count limit binds
    assert [len(g) for g in small] == [64, 64, 2]


def _request(body: bytes, content_type: str) -> Request:
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [
        (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]}
    return Request(scope, receive)


def test_multipart_body_is_what_the_gateway_reads_and_its_length_exact() -> None:
    chunk1, chunk2 = b"a" * 1000, bytes(range(256)) * 3
    name1, name2 = hashlib.sha1(chunk1).hexdigest(), hashlib.sha1(chunk2).hexdigest()
    body, length = uploads.multipart("b0undary", [
        ("name", None, [b"~/app.js"], 8),
        ("file", name1, [chunk1[:10], chunk1[10:]], len(chunk1)),
        ("file", name2, [chunk2], len(chunk2)),
    ])
    raw = b"".join(body)
    assert len(raw) == length
    form = asyncio.run(read_form(_request(raw, "multipart/form-data; boundary=b0undary"), max_body=length))
    try:
        assert form.value("name") == "~/app.js"
        files = form.files("file")
        assert [p.filename for p in files] == [name1, name2]
        assert [p.file.read() for p in files] == [chunk1, chunk2]  # type: ignore[union-attr]
        assert files[0].content_type == "application/octet-stream"
    finally:
        form.close()


def test_generated_blocks_sum_to_the_size_and_never_repeat() -> None:
    pool = bytes(range(256)) * 4
    blocks = list(uploads.generated_blocks(10_000, pool, b"12345678", block=300))
    assert sum(len(b) for b in blocks) == 10_000
    assert [len(b) for b in blocks[:-1]] == [300] * (len(blocks) - 1)
    assert len(set(blocks)) == len(blocks)
    assert blocks[0][:8] == b"12345678" and blocks[1][8:16] == (1).to_bytes(8, "big")
    again = list(uploads.generated_blocks(10_000, pool, b"12345678", block=300))
    assert again == blocks  # deterministic for a pool and tag
    tiny = list(uploads.generated_blocks(5, pool, b"12345678", block=300))
    assert tiny == [b"12345"]
    with pytest.raises(ValueError):
        next(uploads.generated_blocks(10, pool, b"short", block=300))


def test_parse_status_reads_the_kb_fields_in_bytes() -> None:
    fields = uploads.parse_status(STATUS)
    assert fields["VmRSS"] == 70000 * 1024
    assert fields["RssAnon"] == 50000 * 1024
    assert fields["RssFile"] == 19000 * 1024
    assert "Threads" not in fields and "Name" not in fields
    assert uploads.parse_status("") == {}


def test_role_pids_from_the_pid_files(tmp_path) -> None:
    (tmp_path / "gateway.pid").write_text("101\n")
    (tmp_path / "gateway-2.pid").write_text("102\n")
    (tmp_path / "worker.pid").write_text("200\n")
    (tmp_path / "broker.pid").write_text("300\n")
    (tmp_path / "bad.pid").write_text("x")
    assert uploads.role_pids(tmp_path) == {"gateway": [102, 101], "worker": [200]}
    assert uploads.role_pids(tmp_path / "missing") == {"gateway": [], "worker": []}


def _samples(gateway_b_peak: int) -> list[Sample]:
    out = []
    for i, rss in enumerate([60, 66, 70]):  # median 66
        out.append(Sample(i, "idle", "gateway", rss * MIB, rss * MIB, 0))
        out.append(Sample(i, "idle", "worker", 400 * MIB, 0, 0))
    out += [Sample(5, "a", "gateway", 110 * MIB, 100 * MIB, 10 * MIB), Sample(5, "a", "worker", 450 * MIB, 0, 0),
            Sample(6, "a", "gateway", 90 * MIB, 0, 0),
            Sample(9, "b", "gateway", gateway_b_peak * MIB, 80 * MIB, 20 * MIB),
            Sample(9, "b", "worker", 410 * MIB, 0, 0)]
    return out


def test_peaks_and_idle() -> None:
    samples = _samples(150)
    assert uploads.idle(samples, "gateway") == 66 * MIB
    assert uploads.idle(samples, "nobody") == 0
    top = uploads.peaks(samples)
    assert top[("a", "gateway")].rss == 110 * MIB
    assert top[("b", "worker")].rss == 410 * MIB


def test_format_table_and_the_target() -> None:
    phases = [Phase("a", "(a) chunk upload, 200 MiB", 200 * MIB, 10.0, note="assemble answered 'error'"),
              Phase("b", "(b) release file, 1,024 MiB", 1024 * MIB, 32.0)]
    text = uploads.format_table(phases, _samples(150))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["phase", "gateway", "idle"]
    a = next(line for line in lines if line.startswith("(a) chunk upload, 200 MiB "))
    assert a.split()[-8:] == ["66", "110", "+44", "400", "450", "+50", "20.0", "10.0"]
    b = next(line for line in lines if line.startswith("(b) release file"))
    assert b.split()[-8:] == ["66", "150", "+84", "400", "410", "+10", "32.0", "32.0"]
    assert "(a) chunk upload, 200 MiB: assemble answered 'error'" in lines
    assert lines[-1] == "target: gateway ≤ 100 MiB above idle during (b): +84 MiB → met"
    missed = uploads.format_table(phases, _samples(200))
    assert missed.splitlines()[-1].endswith("+134 MiB → MISSED")
    assert uploads.target(phases[:1], _samples(200)) == ""


def test_options() -> None:
    opts = uploads.parse_args([])
    assert (opts.size_mib, opts.file_mib, opts.keep) == (200, 1024, False)
    opts = uploads.parse_args(["--size-mib", "16", "--file-mib", "64", "--keep"])
    assert (opts.size_mib, opts.file_mib, opts.keep) == (16, 64, True)
    with pytest.raises(SystemExit):
        uploads.parse_args(["--file-mib", "0"])
