"""SCIM 2.0 (RFC 7643, RFC 7644) for Sentry's SCIM API, as pure functions.

Sentry's SCIM API lives under `/api/0/organizations/{org}/scim/v2`: its Users are the
organization's members (`id` the member id, `userName` the email, `sentryOrgRole` the role), its
Groups are the organization's teams (`id` the team id, `displayName` the slug, `members` the
members of the team). This package holds what the gateway's SCIM routes need besides I/O:

- `errors`: `ScimError`, the RFC 7644 §3.12 error body, and the schema URNs;
- `filters`: a SCIM filter (RFC 7644 §3.4.2.2), parsed by `scim2-filter-parser`, as a predicate
  over a flat mapping of attribute values;
- `resources`: members and teams rendered as SCIM Users and Groups, list responses, paging;
- `requests`: request bodies (POST and PATCH) decoded and checked into small records, accepting
  the shapes Okta and Microsoft Entra ID send.

Nothing here does I/O or imports the gateway.
"""
