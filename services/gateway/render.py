"""Render tenancy records in Sentry's JSON shapes (see the reference OpenAPI schema).

Pure functions of records; ids are strings, dates RFC 3339 with `Z`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from picket.schemas.entities import Member, Organization, Project, ProjectKey, Team, User
from picket.store.project_activity import NONE as NO_ACTIVITY, Activity
from picket.tenancy.credentials import dsn
from picket.tenancy.roles import ROLE_ORDER, ROLES

LETTER_AVATAR = {"avatarType": "letter_avatar", "avatarUuid": None}
PROJECT_FEATURES = ["releases", "sample-events", "minidump", "servicehooks", "rate-limits", "data-forwarding"]
ORG_FEATURES = ["discover-basic", "event-attachments", "monitors", "release-health", "sso-basic"]


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _color(slug: str) -> str:
    return "#" + hashlib.md5(slug.encode()).hexdigest()[:6]


def organization_summary(org: Organization) -> dict[str, Any]:
    return {
        "avatar": LETTER_AVATAR,
        "dateCreated": iso(org.date_created),
        "id": str(org.id),
        "isEarlyAdopter": org.is_early_adopter,
        "name": org.name,
        "require2FA": org.require_2fa,
        "slug": org.slug,
        "status": {"id": org.status, "name": org.status},
    }


def organization_nested(org: Organization, public_url: str) -> dict[str, Any]:
    """The organization as nested in a team (with the extra fields that shape requires)."""
    return {
        **organization_summary(org),
        "requireEmailVerification": False,
        "features": ORG_FEATURES,
        "links": {"organizationUrl": public_url, "regionUrl": public_url},
        "hasAuthProvider": False,
    }


def team_ref(team: Team) -> dict[str, Any]:
    return {"id": str(team.id), "name": team.name, "slug": team.slug}


def team(t: Team, members: Iterable[Member], viewer: Member | None, scopes: Iterable[str]) -> dict[str, Any]:
    members = list(members)
    is_member = viewer is not None and t.id in viewer.team_ids
    return {
        "id": str(t.id),
        "slug": t.slug,
        "name": t.name,
        "dateCreated": iso(t.date_created),
        "isMember": is_member,
        "teamRole": "contributor" if is_member else None,
        "flags": {"idp:provisioned": False},
        "access": sorted(s for s in scopes if s.startswith(("team:", "project:", "event:", "alerts:"))),
        "hasAccess": True,
        "isPending": False,
        "memberCount": sum(1 for m in members if t.id in m.team_ids),
        "avatar": LETTER_AVATAR,
        "orgRole": None,
        "externalTeams": [],
    }


def team_detail(t: Team, org: Organization, members: Iterable[Member], viewer: Member | None,
                scopes: Iterable[str]) -> dict[str, Any]:
    return {**team(t, members, viewer, scopes), "organization": organization_summary(org)}


def _platforms(p: Project, seen: Activity) -> list[str]:
    """The platforms of its events, or the one it was made for before any arrived."""
    return list(seen.platforms) if seen.platforms else [p.platform] if p.platform else []


def _project_base(p: Project, teams_by_id: dict[int, Team], viewer: Member | None,
                  seen: Activity = NO_ACTIVITY) -> dict[str, Any]:
    teams = [teams_by_id[i] for i in p.team_ids if i in teams_by_id]
    return {
        "id": str(p.id),
        "slug": p.slug,
        "name": p.name,
        "platform": p.platform,
        "dateCreated": iso(p.date_created),
        "isBookmarked": p.is_bookmarked,
        "isMember": viewer is not None and any(t.id in viewer.team_ids for t in teams),
        "features": PROJECT_FEATURES,
        "firstEvent": iso(seen.first_event),
        "firstTransactionEvent": seen.has_transactions,
        "hasAccess": True,
        "hasMinifiedStackTrace": False,
        "hasMonitors": seen.has_monitors,
        "hasProfiles": False,
        "hasReplays": False,
        "hasSessions": seen.has_sessions,
    }


def project_summary(p: Project, teams_by_id: dict[int, Team], viewer: Member | None,
                    scopes: Iterable[str], seen: Activity = NO_ACTIVITY, latest_release: str | None = None
                    ) -> dict[str, Any]:
    """A project in organization and team project lists (`seen`: what it has received,
    `latest_release`: the version of its newest release)."""
    teams = [teams_by_id[i] for i in p.team_ids if i in teams_by_id]
    return {
        **_project_base(p, teams_by_id, viewer, seen),
        "access": sorted(s for s in scopes if s.startswith(("project:", "event:", "alerts:"))),
        "team": team_ref(teams[0]) if teams else None,
        "teams": [team_ref(t) for t in teams],
        "eventProcessing": {"symbolicationDegraded": False},
        "platforms": _platforms(p, seen),
        "hasUserReports": seen.has_user_reports,
        "environments": list(seen.environments),
        "latestRelease": {"version": latest_release} if latest_release else None,
        "latestDeploys": None,
    }


def project_created(p: Project, teams_by_id: dict[int, Team], viewer: Member | None,
                    scopes: Iterable[str]) -> dict[str, Any]:
    return {
        **_project_base(p, teams_by_id, viewer),
        "access": sorted(s for s in scopes if s.startswith(("project:", "event:", "alerts:"))),
        "isInternal": False,
        "isPublic": False,
        "avatar": LETTER_AVATAR,
        "color": _color(p.slug),
        "status": p.status,
    }


def project_in_list(p: Project, org: Organization, viewer: Member | None,
                    seen: Activity = NO_ACTIVITY) -> dict[str, Any]:
    """A project in the cross-organization `GET /api/0/projects/` list."""
    return {
        "avatar": LETTER_AVATAR,
        "color": _color(p.slug),
        "dateCreated": iso(p.date_created),
        "features": PROJECT_FEATURES,
        "firstEvent": iso(seen.first_event),
        "hasAccess": True,
        "id": str(p.id),
        "isBookmarked": p.is_bookmarked,
        "isInternal": False,
        "isMember": viewer is not None and bool(set(p.team_ids) & set(viewer.team_ids)),
        "isPublic": False,
        "name": p.name,
        "organization": organization_summary(org),
        "platform": p.platform,
        "slug": p.slug,
        "status": p.status,
    }


def project_detail(p: Project, org: Organization, teams_by_id: dict[int, Team],
                   viewer: Member | None, seen: Activity = NO_ACTIVITY,
                   latest_release: dict[str, Any] | None = None) -> dict[str, Any]:
    """A project; `latest_release`: its newest release, rendered."""
    teams = [teams_by_id[i] for i in p.team_ids if i in teams_by_id]
    primary = teams[0] if teams else None
    return {
        **_project_base(p, teams_by_id, viewer, seen),
        "allowedDomains": p.allowed_domains,
        "avatar": LETTER_AVATAR,
        "color": _color(p.slug),
        "dataScrubber": p.data_scrubber,
        "dataScrubberDefaults": False,
        "defaultEnvironment": None,
        "digestsMaxDelay": 1800,
        "digestsMinDelay": 300,
        "isInternal": False,
        "isPublic": False,
        "latestRelease": latest_release,
        "options": {
            "feedback:branding": True,
            "filters:blacklisted_ips": "",
            "filters:error_messages": "",
            "filters:releases": "",
            "sentry:csp_ignored_sources": "",
            "sentry:csp_ignored_sources_defaults": True,
            "sentry:reprocessing_active": False,
        },
        "organization": organization_summary(org),
        "platforms": _platforms(p, seen),
        "plugins": [],
        "processingIssues": 0,
        "relayPiiConfig": None,
        "resolveAge": p.resolve_age,
        "safeFields": p.safe_fields,
        "scrapeJavaScript": p.scrape_javascript,
        "scrubIPAddresses": p.scrub_ip_addresses,
        "securityToken": hashlib.sha256(f"security:{p.id}".encode()).hexdigest()[:32],
        "securityTokenHeader": None,
        "sensitiveFields": p.sensitive_fields,
        "status": p.status,
        "storeCrashReports": None,
        "subjectPrefix": p.subject_prefix,
        "subjectTemplate": p.subject_template,
        "team": team_ref(primary) if primary else {"id": "", "name": "", "slug": ""},
        "teams": [team_ref(t) for t in teams],
        "verifySSL": False,
    }


def _roles_list(allowed_up_to: str) -> list[dict[str, Any]]:
    limit = ROLE_ORDER.index(allowed_up_to) if allowed_up_to in ROLE_ORDER else 0
    return [
        {
            "id": rid,
            "name": ROLES[rid][0],
            "desc": ROLES[rid][1],
            "scopes": sorted(ROLES[rid][2]),
            "is_global": rid in ("manager", "owner"),
            "allowed": i <= limit,
        }
        for i, rid in enumerate(ROLE_ORDER)
    ]


def organization_detail(org: Organization, access_scopes: Iterable[str], viewer: Member,
                        teams: list[Team], projects: list[Project], members: list[Member],
                        seen: Mapping[int, Activity] | None = None) -> dict[str, Any]:
    """`seen`: what each project received (`firstEvent`, `platforms`)."""
    teams_by_id = {t.id: t for t in teams}
    seen = seen or {}
    return {
        **organization_summary(org),
        "access": sorted(access_scopes),
        "allowSharedIssues": org.allow_shared_issues,
        "availableRoles": [{"id": r, "name": ROLES[r][0]} for r in ROLE_ORDER],
        "dataScrubber": org.data_scrubber,
        "dataScrubberDefaults": org.data_scrubber_defaults,
        "defaultRole": org.default_role,
        "enhancedPrivacy": org.enhanced_privacy,
        "experiments": {},
        "features": ORG_FEATURES,
        "isDefault": False,
        "onboardingTasks": [],
        "openMembership": org.open_membership,
        "pendingAccessRequests": 0,
        "projects": [
            {
                "dateCreated": iso(p.date_created),
                "firstEvent": iso(seen.get(p.id, NO_ACTIVITY).first_event),
                "hasAccess": True,
                "id": str(p.id),
                "isBookmarked": p.is_bookmarked,
                "isMember": bool(set(p.team_ids) & set(viewer.team_ids)),
                "latestDeploys": None,
                "name": p.name,
                "platform": p.platform,
                "platforms": _platforms(p, seen.get(p.id, NO_ACTIVITY)),
                "slug": p.slug,
                "team": team_ref(teams_by_id[p.team_ids[0]]) if p.team_ids and p.team_ids[0] in teams_by_id else None,
                "teams": [team_ref(teams_by_id[i]) for i in p.team_ids if i in teams_by_id],
            }
            for p in projects
        ],
        "quota": {"accountLimit": 0, "maxRate": None, "maxRateInterval": 60, "projectLimit": 100},
        "safeFields": org.safe_fields,
        "scrapeJavaScript": org.scrape_javascript,
        "scrubIPAddresses": org.scrub_ip_addresses,
        "sensitiveFields": org.sensitive_fields,
        "storeCrashReports": org.store_crash_reports,
        "teams": [
            {
                "avatar": LETTER_AVATAR,
                "dateCreated": iso(t.date_created),
                "hasAccess": True,
                "id": str(t.id),
                "isMember": t.id in viewer.team_ids,
                "isPending": False,
                "memberCount": sum(1 for m in members if t.id in m.team_ids),
                "name": t.name,
                "slug": t.slug,
            }
            for t in teams
        ],
        "trustedRelays": [],
    }


def project_key(key: ProjectKey, public_url: str) -> dict[str, Any]:
    return {
        "id": key.public,
        "name": key.label,
        "label": key.label,
        "public": key.public,
        "secret": key.secret,
        "projectId": key.project_id,
        "isActive": key.is_active,
        # Sentry answers the limit as an object; the reference schema types it as a string.
        "rateLimit": (
            {"window": key.rate_limit.window, "count": key.rate_limit.count} if key.rate_limit else None
        ),
        "dsn": dsn(key, public_url),
        "browserSdkVersion": key.browser_sdk_version,
        "browserSdk": {"choices": [["latest", "latest"], ["7.x", "7.x"]]},
        "dateCreated": iso(key.date_created),
    }


def user(u: User, last_seen: datetime | None = None) -> dict[str, Any]:
    return {
        "id": str(u.id),
        "name": u.name,
        "username": u.email,
        "email": u.email,
        "avatarUrl": f"https://secure.gravatar.com/avatar/{hashlib.md5(u.email.lower().encode()).hexdigest()}?s=32&d=mm",
        "avatar": LETTER_AVATAR,
        "isActive": True,
        "hasPasswordAuth": False,
        "isManaged": False,
        "dateJoined": iso(u.date_joined),
        "lastLogin": iso(last_seen or u.date_joined),
        "lastActive": iso(last_seen or u.date_joined),
        "has2fa": False,
        "isSuperuser": u.is_superuser,
        "isStaff": False,
        "experiments": {},
        "emails": [{"id": str(u.id), "email": u.email, "is_verified": True}],
        "identities": [],
    }


def member_detail(m: Member, u: User | None, teams_by_id: dict[int, Team], members: list[Member],
                  viewer_role: str) -> dict[str, Any]:
    owners = [x for x in members if x.role == "owner" and not x.pending]
    teams = [teams_by_id[i] for i in m.team_ids if i in teams_by_id]
    return {
        "id": str(m.id),
        "email": m.email,
        "name": u.name if u else m.email,
        "user": user(u) if u else None,
        "role": m.role,
        "roleName": ROLES.get(m.role, ROLES["member"])[0],
        "orgRole": m.role,
        "groupOrgRoles": [],
        "pending": m.pending,
        "expired": False,
        "flags": {
            "idp:provisioned": False,
            "idp:role-restricted": False,
            "sso:linked": False,
            "sso:invalid": False,
            "member-limit:restricted": False,
        },
        "dateCreated": iso(m.date_created),
        "inviteStatus": "approved",
        "inviterName": m.inviter_name,
        "teams": [t.slug for t in teams],
        "teamRoles": [{"teamSlug": t.slug, "role": "contributor"} for t in teams],
        "invite_link": None,
        "isOnlyOwner": m.role == "owner" and len(owners) == 1,
        "roles": _roles_list(viewer_role),
        "orgRoleList": _roles_list(viewer_role),
        "teamRoleList": [
            {"id": "contributor", "name": "Contributor", "desc": "Contributors can view and act on events.",
             "scopes": ["event:read", "event:write", "team:read", "project:read"], "is_global": False, "allowed": True},
            {"id": "admin", "name": "Team Admin", "desc": "Admin privileges on the team.",
             "scopes": ["team:write", "team:admin", "project:write", "project:admin"], "is_global": False, "allowed": True},
        ],
        "externalUsers": [],
    }


def organization_user(m: Member, u: User, projects: list[Project]) -> dict[str, Any]:
    """A member with an account, as in `GET /organizations/{org}/users/`."""
    u_json = user(u)
    for key in ("experiments", "identities"):
        u_json.pop(key)
    return {
        "dateCreated": iso(m.date_created),
        "user": u_json,
        "roleName": ROLES.get(m.role, ROLES["member"])[0],
        "expired": False,
        "id": str(m.id),
        "projects": [p.slug for p in projects if set(p.team_ids) & set(m.team_ids)],
        "name": u.name,
        "role": m.role,
        "flags": {"sso:linked": False, "sso:invalid": False},
        "email": m.email,
        "pending": m.pending,
    }
