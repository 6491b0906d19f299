"""Health check of a Picket container (the image's HEALTHCHECK): exit 0 if healthy, 1 if not.

    python /opt/picket/healthcheck.py [PATH]

The image runs any `picket` command, so the check follows the one this container runs (the
command line of its `picket` process, read from /proc):

- `picket gateway`, `picket run`: GET http://127.0.0.1:<port><PATH> answers 2xx. PATH is
  `/_health/` (the process answers) unless given, e.g. `/_health/ready` (the whole
  installation); the port is the command's `--port`, else PICKET_PORT, else 8000.
- `picket worker`: GET /metrics answers 2xx where PICKET_METRICS_LISTEN says (with
  PICKET_METRICS_TOKEN as a bearer token when set); without PICKET_METRICS_LISTEN, running is
  enough.
- any other command (admin, status, tail): running is enough.

No `picket` process (an entrypoint replaced by a shell): unhealthy. Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

TIMEOUT = 4.0
ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")


def command_of(argv: Sequence[str]) -> list[str] | None:
    """`picket`'s arguments in a command line: what follows the `picket` script or `-m picket.cli`;
    None if the line runs no picket."""
    for i, arg in enumerate(argv):
        if os.path.basename(arg) == "picket":
            return list(argv[i + 1:])
        if arg == "-m" and list(argv[i + 1:i + 2]) == ["picket.cli"]:
            return list(argv[i + 2:])
    return None


def picket_command(proc: Path = Path("/proc")) -> list[str] | None:
    """The arguments of the first (lowest pid) process of the container that runs picket."""
    for pid in sorted(int(p.name) for p in proc.iterdir() if p.name.isdigit()):
        try:
            argv = [a.decode(errors="replace") for a in (proc / str(pid) / "cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        found = command_of(argv)
        if found is not None:
            return found
    return None


def _option(args: Sequence[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def target(args: Sequence[str], env: Mapping[str, str], path: str = "/_health/") -> tuple[str, dict[str, str]] | None:
    """The URL to GET and its headers; None when running is enough."""
    role = args[0] if args else ""
    if role in ("gateway", "run"):
        port = _option(args, "--port") or env.get("PICKET_PORT") or "8000"
        return f"http://127.0.0.1:{port}{path}", {}
    if role == "worker" and env.get("PICKET_METRICS_LISTEN"):
        host, _, port = env["PICKET_METRICS_LISTEN"].rpartition(":")
        host = "127.0.0.1" if host in ANY_ADDRESS else host
        token = env.get("PICKET_METRICS_TOKEN")
        return f"http://{host}:{port}/metrics", {"Authorization": f"Bearer {token}"} if token else {}
    return None


def main(argv: Sequence[str]) -> int:
    args = picket_command()
    if args is None:
        print("no picket process in this container", file=sys.stderr)
        return 1
    found = target(args, os.environ, argv[1] if len(argv) > 1 else "/_health/")
    if found is None:
        return 0
    url, headers = found
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT) as answer:
            return 0 if 200 <= answer.status < 300 else 1
    except Exception as exc:  # refused, timed out, 503 (HTTPError): unhealthy, and why
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
