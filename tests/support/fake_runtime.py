"""An in-memory stand-in for the gateway's `Runtime` (services/gateway/runtime.py), for route tests
without Kafka or ClickHouse: what routes use of it, nothing more.

- store reads: tenancy records by kind, answered for `entities.select / first / select_many` as
  the projection would (same filters, ordered by id); any other read function (issues, monitors)
  answers from `answer(fn, ...)`, and a read nobody configured fails the test. Every read and
  aggregate query is recorded.
- `FakeAuth`: bearer tokens as the real `Authenticator` checks them (401 no, malformed or unknown
  token; 404 unknown organization; 403 token of another organization, not a member, or no
  accepted scope among the token's scopes that the member's role grants).
- `FakeBus`: records each command with its status overrides and answers the next queued verdict:
  accepted (then `on_accepted(command)` may change the store, as the projection would before the
  real verdict comes, and `decided_check_in(command)` fills a reply given at decision), or
  `CommandRejected` with the status the real bus would give.
- `FakePublisher`: records what ingestion publishes, or fails as a broker that does not ack.
"""

from __future__ import annotations

import collections
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request

with warnings.catch_warnings():
    # Starlette 1.x would rather have httpx2 under its TestClient; httpx, a test dependency, works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from picket.schemas.commands import CommandMeta
from picket.schemas.entities import Member, Organization, Project, ProjectKey, Team, Token, User
from picket.schemas.replies import Reply
from picket.bus.publisher import PublishFailed, Record
from picket.config import Settings
from picket.gateway.app import build_app
from picket.gateway.auth import OrgAccess, Principal, org_access
from picket.gateway.commands import CommandRejected
from picket.gateway.errors import ApiError, forbidden, not_found
from picket.gateway.monitor_cache import MonitorCache
from picket.gateway.rate_limits import RateLimiter
from picket.gateway.request_body import Budget
from picket.ingest.limits import DEFAULT_LIMITS, Limits
from picket.store import entities, integrations_read, issues_read, monitors_read, project_activity, releases_read

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
PUBLIC_URL = "http://picket.test"
# The real bus's status of each rejection outcome (services/gateway/commands.py), 400 otherwise.
REJECTION_STATUS = {"conflict": 409, "not_found": 404, "invalid": 400, "forbidden": 403}
_KINDS = {Organization: "organization", Team: "team", Project: "project", ProjectKey: "key",
          Member: "member", User: "user", Token: "token"}


def settings() -> Settings:
    return Settings(kafka=None, clickhouse_url="chdb:///nowhere", data_dir=Path("/nonexistent"),
                    database="picket", topic_prefix="t-", public_url=PUBLIC_URL, reply_timeout=1.0)


def _columns(kind: str, r: Any) -> dict[str, Any]:
    """The columns the projection filters a record by (services/tenancy/project.py)."""
    org_id = r.id if kind == "organization" else 0 if kind in ("user", "token") else r.org_id
    match kind:
        case "token":
            parent_id, slug = r.user_id, r.token_hash
        case "key":
            parent_id, slug = r.project_id, r.public
        case "member":
            parent_id, slug = r.user_id or 0, r.email.lower()
        case "user":
            parent_id, slug = 0, r.email.lower()
        case _:
            parent_id, slug = 0, r.slug
    return {"id": r.id, "org_id": org_id, "parent_id": parent_id, "slug": slug}


def _matches(kind: str, record: Any, filters: dict[str, Any]) -> bool:
    """Whether `record` passes every filter of `entities.select` (`ids`, `org_ids`: any of)."""
    columns = _columns(kind, record)
    for name, value in filters.items():
        if name in ("ids", "org_ids"):
            if columns[name[:-1]] not in value:
                return False
        elif columns[name] != value:
            return False
    return True


class FakeAuth:
    """Tokens by their secret; organizations and memberships from the runtime's records."""

    def __init__(self, rt: FakeRuntime) -> None:
        self._rt = rt
        self.tokens: dict[str, Principal] = {}

    async def principal(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise ApiError(401, "Authentication credentials were not provided.")
        if scheme.lower() not in ("bearer", "token") or not token.strip():
            raise ApiError(401, "Invalid token header. No credentials provided.")
        found = self.tokens.get(token.strip())
        if found is None:
            raise ApiError(401, "Invalid token")
        return found

    async def organization(self, request: Request, org_slug: str, any_of: tuple[str, ...]) -> OrgAccess:
        principal = await self.principal(request)
        org = await self.organization_by_slug(org_slug)
        if org is None:
            raise not_found()
        if principal.token.org_id is not None and principal.token.org_id != org.id:
            raise forbidden()  # as the real one: before looking the member up
        member = next((m for m in self._rt.records("member") if m.org_id == org.id
                       and m.user_id == principal.user.id), None)
        return org_access(principal, org, member, any_of)  # the real rule

    async def organization_by_slug(self, slug: str) -> Organization | None:
        return next((o for o in self._rt.records("organization") if o.slug == slug), None)


@dataclass(frozen=True)
class Sent:
    command: Any
    statuses: dict[str, int] | None


class FakeBus:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._verdicts: collections.deque[tuple[str, str | None]] = collections.deque()
        self.on_accepted: Callable[[Any], None] | None = None
        # What an agent that answers at decision puts in an accepted reply (a check-in).
        self.decided_check_in: Callable[[Any], Any] | None = None

    @property
    def commands(self) -> list[Any]:
        return [s.command for s in self.sent]

    def reject_next(self, outcome: str, detail: str | None = None) -> None:
        """The next command sent gets this verdict (queued: one call per rejected command)."""
        self._verdicts.append((outcome, detail))

    def meta(self, actor_user_id: int | None = None) -> CommandMeta:
        return CommandMeta(command_id=uuid.uuid4().hex, issued_at=NOW, reply_to="gateway-test",
                           actor_user_id=actor_user_id)

    async def execute(self, command: Any, statuses: dict[str, int] | None = None) -> Reply:
        self.sent.append(Sent(command, statuses))
        outcome, detail = self._verdicts.popleft() if self._verdicts else ("accepted", None)
        reply = Reply(command_id=command.meta.command_id, outcome=outcome, detail=detail)  # type: ignore[arg-type]
        if outcome != "accepted":
            raise CommandRejected((statuses or {}).get(outcome) or REJECTION_STATUS.get(outcome, 400), reply)
        if self.on_accepted is not None:
            self.on_accepted(command)
        if self.decided_check_in is not None:
            reply = msgspec.structs.replace(reply, check_in=self.decided_check_in(command))
        return reply


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[list[Record], bool]] = []  # (records, atomic) per call
        self.fail = False

    async def publish(self, records: Sequence[Record], timeout: float, *, atomic: bool = True) -> None:
        if self.fail:
            raise PublishFailed("no ack")
        self.published.append((list(records), atomic))

    @property
    def records(self) -> list[Record]:
        return [r for batch, _ in self.published for r in batch]


class FakeKeys:
    """The client-key cache: a project key by its public key, from the runtime's records."""

    def __init__(self, rt: FakeRuntime) -> None:
        self._rt = rt

    async def get(self, public_key: str) -> ProjectKey | None:
        return next((k for k in self._rt.records("key") if k.public == public_key), None)


class FakeHorizons:
    def __init__(self) -> None:
        self.value = NOW.replace(minute=0, second=0)

    async def get(self, rollup: Any) -> datetime:
        return self.value


class FakeRuntime:
    """What routes reach through `runtime(request)`; records live in `self._records` by kind."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.settings = settings()
        self.auth = FakeAuth(self)
        self.bus = FakeBus()
        self.publisher = FakePublisher()
        self.keys = FakeKeys(self)
        self.rate_limiter = RateLimiter()
        self.horizons = FakeHorizons()
        self.body_budget = Budget(64 * 1024 * 1024)
        self.limits = limits
        self._records: dict[str, dict[int, Any]] = {kind: {} for kind in _KINDS.values()}
        self._answers: dict[Any, Callable[..., Any]] = {}
        self.reads: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
        self.queries: list[tuple[str, dict[str, Any]]] = []
        self.query_rows: Callable[[str, dict[str, Any]], list[tuple[Any, ...]]] = lambda sql, params: []
        self._next_id = 1000
        # Nothing kept (ttl 0): every check-in reads the monitor, as tests expect of their store.
        self.monitors = MonitorCache(lambda org_id, slug: self.read(monitors_read.monitor, org_id, slug), ttl=0)
        # Projects have received nothing unless a test says otherwise.
        self.answer(project_activity.activity, {})
        # Nor has anyone worked on its issues: no flags, activity, releases, reports, merges.
        self.answer(issues_read.user_flags, {})
        self.answer(issues_read.activity, [])
        self.answer(issues_read.flagged_users, [])
        self.answer(issues_read.latest_releases, {})
        self.answer(issues_read.user_report_count, 0)
        self.answer(issues_read.group_redirect, None)
        self.answer(issues_read.release_seen, None)
        # Nor made releases.
        self.answer(releases_read.latest_releases, {})
        self.answer(releases_read.seen, {})
        self.answer(releases_read.release, None)
        self.answer(releases_read.with_health, set())
        # Nor linked external issues.
        self.answer(integrations_read.external_issues, [])

    # -- the Runtime interface -------------------------------------------------------------------

    async def read(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.reads.append((fn, args, kwargs))
        if fn is entities.select:
            return self._select(*args, **kwargs)
        if fn is entities.first:
            found = self._select(*args, **kwargs)
            return found[0] if found else None
        if fn is entities.select_many:
            kinds, org_id = args
            return {kind: self._select(kind, org_id=org_id) for kind in kinds}
        if fn not in self._answers:
            raise AssertionError(f"unexpected store read {fn.__module__}.{fn.__name__}{args}")
        return self._answers[fn](*args, **kwargs)

    async def org_records(self, org_id: int, *kinds: str) -> dict[str, list[Any]]:
        return await self.read(entities.select_many, kinds or ("team", "project", "member"), org_id)

    async def query(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        self.queries.append((sql, params))
        return self.query_rows(sql, params)

    # -- configuring it ---------------------------------------------------------------------------

    def answer(self, fn: Any, value: Any = None, *, using: Callable[..., Any] | None = None) -> None:
        """Reads through `fn` return `value`, or what `using(*args, **kwargs)` returns."""
        self._answers[fn] = using if using is not None else (lambda *_, **__: value)

    def reads_of(self, fn: Any) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, kwargs) for f, args, kwargs in self.reads if f is fn]

    def records(self, kind: str) -> list[Any]:
        return sorted(self._records[kind].values(), key=lambda r: r.id)

    def put(self, record: Any) -> Any:
        """Add or replace a record (by id), as the projection does when an event arrives."""
        self._records[_KINDS[type(record)]][record.id] = record
        return record

    def remove(self, record: Any) -> None:
        self._records[_KINDS[type(record)]].pop(record.id, None)

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_org(self, slug: str, name: str | None = None) -> Organization:
        return self.put(Organization(id=self.new_id(), slug=slug, name=name or slug.title(), date_created=NOW))

    def add_user(self, email: str, name: str = "") -> User:
        return self.put(User(id=self.new_id(), email=email, name=name or email, date_joined=NOW))

    def add_member(self, org: Organization, user: User | None, role: str = "member",
                   teams: Iterable[Team] = (), email: str | None = None) -> Member:
        return self.put(Member(id=self.new_id(), org_id=org.id, email=email or (user.email if user else ""),
                               role=role, date_created=NOW, user_id=user.id if user else None,
                               team_ids=[t.id for t in teams]))

    def add_token(self, user: User, scopes: Iterable[str], org: Organization | None = None) -> str:
        """A token of `user` with `scopes` (bound to `org` if given); returns its secret."""
        secret = uuid.uuid4().hex
        token = self.put(Token(id=self.new_id(), user_id=user.id, token_hash=f"hash-{secret}",
                               scopes=sorted(scopes), date_created=NOW, org_id=org.id if org else None))
        self.auth.tokens[secret] = Principal(token, user)
        return secret

    def add_team(self, org: Organization, slug: str, name: str | None = None) -> Team:
        return self.put(Team(id=self.new_id(), org_id=org.id, slug=slug, name=name or slug.title(),
                             date_created=NOW))

    def add_project(self, org: Organization, slug: str, teams: Iterable[Team] = (), **fields: Any) -> Project:
        return self.put(Project(id=self.new_id(), org_id=org.id, slug=slug, name=fields.pop("name", slug.title()),
                                date_created=NOW, team_ids=[t.id for t in teams], **fields))

    def add_key(self, project: Project, label: str = "Default", **fields: Any) -> ProjectKey:
        return self.put(ProjectKey(id=self.new_id(), org_id=project.org_id, project_id=project.id, label=label,
                                   public=fields.pop("public", uuid.uuid4().hex), secret=uuid.uuid4().hex,
                                   date_created=NOW, **fields))

    def client(self) -> TestClient:
        """A client of the gateway's real routes served with this runtime (no lifespan)."""
        app = build_app()
        app.state.runtime = self
        return TestClient(app, base_url=PUBLIC_URL)

    def _select(self, kind: str, **filters: Any) -> list[Any]:
        return [r for r in self.records(kind) if _matches(kind, r, filters)]


def replaced(record: Any, **changes: Any) -> Any:
    return msgspec.structs.replace(record, **changes)
