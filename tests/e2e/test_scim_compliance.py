"""RFC 7643/7644 compliance of Picket's SCIM API, checked by `scim2-tester` against a live Picket.

Sentry offers no discovery endpoints (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`),
so the tester is not left to discover the server: it is handed Sentry's SCIM service as a
`ScimProvider` described here, the two resources with the attributes Sentry serves and what a
client may do with each:

- User (`/Users`): `userName` an email, required and immutable (Sentry cannot rename a member);
  `sentryOrgRole` read-write and always there (declared required: it cannot be removed), one of
  the roles SCIM may give; `name`, `emails` and `active` read-only (Sentry answers `N/A` names,
  the email, and `active: true`: a member deactivated through SCIM is removed, so `active` is
  not something a generic client can flip and read back).
- Group (`/Groups`): `displayName` required and read-write (random names the tester makes are
  UUIDs, their own slugs, so the slug Picket answers is what was sent); `members` read-write,
  each a `value` (the member id) and a `$ref` to the User, compared by `value`; `display`
  read-only. The tester makes a member by creating a User and reading its `meta.location`.
- `externalId` read-only and never returned (Sentry keeps none).
- PATCH supported, filter supported (up to 100 results), no bulk, sort, ETag or password change.

Checks of features Sentry lacks are excluded by tag, and the tester reports them as skipped:
`discovery` (no discovery endpoints) and `crud:update` (no PUT). Everything else must pass:
creation, reads, lists, `attributes`, PATCH add/replace/remove, deletion, a 404 SCIM error for an
unknown URL under the SCIM base, and `POST /.search` answered 501 (so that check is skipped).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import httpx2
import pytest
from pydantic import Field
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    URN, AuthenticationScheme, Bulk, CaseExact, ChangePassword, ComplexAttribute, ETag, Filter, Mutability,
    Patch, Reference, Required, Resource, ResourceType, Returned, ScimProvider, ServiceProviderConfig,
    Sort, Uniqueness,
)
from scim2_tester import CheckResult, Status, check_server

from picket.scim.errors import GROUP_SCHEMA, USER_SCHEMA
from tests.support.picket import PicketProcess

EXCLUDED = {"discovery", "crud:update"}
FAILED = {Status.ERROR, Status.CRITICAL}
# The checks that must have run and passed for each resource: a run where they were all skipped
# (or never reached) proves nothing.
REQUIRED_SUCCESSES = {
    ("User", "object_creation"), ("User", "object_query"), ("User", "object_query_without_id"),
    ("User", "object_deletion"), ("User", "check_replace_attribute"),
    ("Group", "object_creation"), ("Group", "object_query"), ("Group", "object_query_without_id"),
    ("Group", "object_deletion"), ("Group", "check_add_attribute"), ("Group", "check_remove_attribute"),
    ("Group", "check_replace_attribute"), ("Group", "object_query_with_attributes"),
    ("Group", "object_list_with_attributes"),
    (None, "random_url"),
}


class _FreshEmails(list):  # type: ignore[type-arg]
    """`examples` for `userName` that never repeat: the tester draws a value with
    `random.choice(examples)`, which reads `len()` and one item, and each item read here is a new
    address (a fixed list would make it create two Users with one email, a 409)."""

    def __init__(self) -> None:
        super().__init__(["scim-tester@example.com"])

    def __getitem__(self, index: Any) -> Any:
        return f"scim-tester-{uuid.uuid4().hex[:12]}@example.com"


# Roles SCIM may give (Sentry refuses to make owners through SCIM).
SCIM_ROLES = ["member", "admin", "manager", "billing"]


class SentryName(ComplexAttribute):
    given_name: Annotated[str | None, Mutability.read_only] = None
    family_name: Annotated[str | None, Mutability.read_only] = None


class SentryEmail(ComplexAttribute):
    value: Annotated[str | None, Mutability.read_only] = None
    primary: Annotated[bool | None, Mutability.read_only] = None
    type: Annotated[str | None, Mutability.read_only] = None


class User(Resource[Any]):
    """Sentry's SCIM User: an organization member."""

    __schema__ = URN(USER_SCHEMA)

    external_id: Annotated[str | None, Mutability.read_only, Returned.never] = None
    user_name: Annotated[str | None, Required.true, Mutability.immutable, CaseExact.false, Uniqueness.server] = \
        Field(None, examples=_FreshEmails())
    name: Annotated[SentryName | None, Mutability.read_only] = None
    emails: Annotated[list[SentryEmail] | None, Mutability.read_only] = None
    active: Annotated[bool | None, Mutability.read_only] = None
    sentry_org_role: Annotated[str | None, Required.true, Mutability.read_write] = Field(None, examples=SCIM_ROLES)


class SentryGroupMember(ComplexAttribute):
    """A member of a Group: `value` the member id, `$ref` the User's location (how the tester
    makes a member: it creates a User and takes the last segment of its `meta.location`),
    `display` the email, read-only.

    Two members are the same member when their `value` is: the tester compares what it PATCHed
    (a value and a `$ref`, no `display`, which is read-only) with what it reads back (Sentry's
    `display` filled in, and `$ref` only if the server renders it) as whole values."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    ref: Annotated[Reference["User"] | None, Mutability.immutable] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref")
    display: Annotated[str | None, Mutability.read_only] = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SentryGroupMember) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


class Group(Resource[Any]):
    """Sentry's SCIM Group: a team."""

    __schema__ = URN(GROUP_SCHEMA)

    external_id: Annotated[str | None, Mutability.read_only, Returned.never] = None
    display_name: Annotated[str | None, Required.true, Mutability.read_write] = None
    members: Annotated[list[SentryGroupMember] | None, Mutability.read_write] = None


def sentry_provider() -> ScimProvider:
    """Sentry's SCIM service as a discovery would describe it, had Sentry discovery endpoints."""
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=100),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken, name="Bearer token",
            description="A Sentry auth token (member:admin for Users, team:admin for Groups).")],
    )
    resource_types = [
        ResourceType(id="User", name="User", endpoint="/Users", schema_=URN(USER_SCHEMA)),
        ResourceType(id="Group", name="Group", endpoint="/Groups", schema_=URN(GROUP_SCHEMA)),
    ]
    return ScimProvider(models=[User, Group], resource_types=resource_types, config=config)


def run_tester(base_url: str, token: str) -> list[CheckResult]:
    with httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        client = SyncSCIMClient(http, provider=sentry_provider())
        return check_server(client, exclude_tags=EXCLUDED)


def describe(results: list[CheckResult]) -> str:
    lines = []
    for r in results:
        data = r.data if r.data is None or len(repr(r.data)) < 600 else repr(r.data)[:600] + "…"
        lines.append(f"- [{r.status.name}] {r.resource_type or '-'} {r.title}: {r.reason}\n    data: {data}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def compliance(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("scim-compliance"), org="compliance").start()
    try:
        yield proc
    finally:
        proc.stop()


def test_scim2_tester_finds_no_failure(compliance: PicketProcess) -> None:
    results = run_tester(f"{compliance.url}/api/0/organizations/{compliance.org}/scim/v2", compliance.token)

    failures = [r for r in results if r.status in FAILED]
    assert not failures, f"{len(failures)} of {len(results)} checks failed:\n{describe(failures)}"

    skipped = [r for r in results if r.status == Status.SKIPPED]
    for r in skipped:  # skipped only for the features Sentry lacks, or what Picket declares it lacks
        assert r.tags & EXCLUDED or "*" in r.tags or "not supported" in (r.reason or "") \
            or (r.reason or "").startswith("No "), f"unexpected skip:\n{describe([r])}"

    succeeded = {(r.resource_type, r.title) for r in results if r.status == Status.SUCCESS}
    missing = REQUIRED_SUCCESSES - succeeded
    assert not missing, f"checks that did not pass: {sorted(missing, key=str)}\n{describe(results)}"


def test_the_description_given_to_the_tester_is_sound() -> None:
    """The models build, and the tester's filler draws only valid values from them."""
    provider = sentry_provider()
    assert provider.model_for("User") is User and provider.model_for("Group") is Group
    drawn = {User.model_fields["user_name"].examples[0] for _ in range(50)}  # type: ignore[index]
    assert len(drawn) == 50 and all(e.endswith("@example.com") for e in drawn)
    assert set(SCIM_ROLES) < {"member", "admin", "manager", "owner", "billing"}
