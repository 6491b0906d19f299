"""`picket` command line.

    picket run [--host H] [--port P] [--data-dir D] [--gateways N]   all in one, embedded defaults
    picket gateway [--host H] [--port P] [--no-migrate] HTTP gateway (needs KAFKA_BOOTSTRAP)
    picket worker                                      agents and projectors
    picket admin create-user --email E [--name N]
    picket admin create-org --slug S --owner-email E [--name N]
    picket admin create-token --email E [--scopes a,b] [--org SLUG]
    picket tail TOPIC [--from-beginning] [--org SLUG] [--type EVENT] [--data-dir D] [--bootstrap HOST:PORT]
    picket status [--data-dir D]                       processes, consumer lag, dead letters, tables
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any

from picket import logs, replay, stack, status, tail
from picket.config import from_env


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="picket", description="Sentry-compatible backend on Kafka and ClickHouse.")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("run", "gateway"):
        s = sub.add_parser(name)
        s.add_argument("--host", default=None)
        s.add_argument("--port", type=int, default=None)
        s.add_argument("--data-dir", default=None)
    sub.choices["gateway"].add_argument(
        "--no-migrate", action="store_true", help="leave ClickHouse migrations to the worker")
    sub.choices["run"].add_argument(
        "--gateways", type=int, default=None,
        help="gateway processes sharing the port (default: half the cores, at least 1)")
    w = sub.add_parser("worker")
    w.add_argument("--data-dir", default=None)
    admin = sub.add_parser("admin").add_subparsers(dest="action", required=True)
    u = admin.add_parser("create-user")
    u.add_argument("--email", required=True)
    u.add_argument("--name")
    o = admin.add_parser("create-org")
    o.add_argument("--slug", required=True)
    o.add_argument("--owner-email", required=True)
    o.add_argument("--name")
    t = admin.add_parser("create-token")
    t.add_argument("--email", required=True)
    t.add_argument("--scopes", help="comma-separated; default: all scopes")
    t.add_argument("--org", help="restrict the token to this organization slug")
    app = admin.add_parser("create-app", help="an internal integration (Sentry app) installed in an organization")
    app.add_argument("--org", required=True)
    app.add_argument("--name", required=True)
    app.add_argument("--webhook-url", required=True)
    app.add_argument("--events", default="issue,error", help="comma-separated resources: issue, error")
    for a in (u, o, t, app):
        a.add_argument("--data-dir", default=None)
    tail.add_arguments(sub.add_parser("tail", help="follow a public topic, one JSON object a line"))
    sub.add_parser("status", help="processes, consumer lag, dead letters and tables of a running Picket").add_argument(
        "--data-dir", default=None)
    replay.add_arguments(sub.add_parser(
        "replay", help="rebuild projections from their event logs, then switch reads to them"))
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logs.setup(args.cmd)  # one line a record: JSON off a terminal, PICKET_LOG_FORMAT to choose
    # aiokafka warns at every SASL/PLAIN sign-in over a plain socket (the embedded broker on
    # loopback): once is enough to know.
    logging.getLogger("aiokafka.conn").addFilter(_Once("Sending username and password in the clear"))
    settings = from_env(getattr(args, "data_dir", None), getattr(args, "host", None), getattr(args, "port", None))
    if args.cmd == "run":
        gateways = stack.default_gateways() if args.gateways is None else args.gateways
        if gateways < 1:
            sys.exit("picket run: --gateways must be at least 1")
        _run(stack.run_all(settings, gateways))
    elif args.cmd == "gateway":
        _run(stack.run_gateway(settings, migrate_store=not args.no_migrate))
    elif args.cmd == "worker":
        _run(stack.run_worker(settings))
    elif args.cmd == "tail":
        sys.exit(tail.main(settings, args))
    elif args.cmd == "status":
        sys.exit(status.main(settings))
    elif args.cmd == "replay":
        sys.exit(replay.main(settings, args))
    else:
        print(asyncio.run(stack.run_admin(settings, _admin_action(args))))


class _Once(logging.Filter):
    """Lets a record with `text` in its message through once, then drops the others."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text
        self._seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self._text not in record.getMessage():
            return True
        seen, self._seen = self._seen, True
        return not seen


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived process on uvloop when it is installed (it comes with uvicorn[standard]):
    the gateway answers ~10–30% more requests per second on it than on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _admin_action(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    async def action(admin):  # type: ignore[no-untyped-def]
        if args.action == "create-user":
            return f"user {await admin.ensure_user(args.email, args.name)} {args.email.strip().lower()}"
        if args.action == "create-app":
            made, installation = await admin.create_app(args.org, args.name, args.webhook_url,
                                                        [e.strip() for e in args.events.split(",") if e.strip()])
            return (f"app {made.uuid} {made.slug}\ninstallation {installation.uuid}\n"
                    f"client id {made.client_id}\nclient secret {made.client_secret}")
        if args.action == "create-org":
            org = await admin.ensure_organization(args.slug, args.owner_email, args.name)
            return f"organization {org.id} {org.slug}"
        org_id = None
        if args.org:
            org = await admin._find("organization", slug=args.org)
            if org is None:
                sys.exit(f"no organization {args.org!r}")
            org_id = org.id
        scopes = [s.strip() for s in args.scopes.split(",")] if args.scopes else None
        return await admin.create_token(args.email, scopes=scopes, org_id=org_id)

    return action


if __name__ == "__main__":
    main()
