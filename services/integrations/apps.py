"""Making a Sentry app (an internal integration) and its installation. Pure but for the check
of the webhook URL (`picket.hooks.urls`, which resolves the host)."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timezone

from picket.hooks.urls import check_url
from picket.schemas.integrations import Installation, SentryApp
from picket.tenancy.slugs import slugify

# The resources an app's webhook may subscribe to (Sentry's `issue` and `error`).
APP_RESOURCES = ("issue", "error")


def new_app(org_id: int, name: str, webhook_url: str, events: list[str], *, allow_private: bool,
            now: datetime | None = None) -> tuple[SentryApp, Installation] | str:
    """The app and its installation in the organization, or why not (one sentence)."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        return "An app's name is 1 to 64 characters."
    unknown = sorted(set(events) - set(APP_RESOURCES))
    if unknown:
        return f"Unknown events {unknown}: an app subscribes to {', '.join(APP_RESOURCES)}."
    problem = check_url(webhook_url, allow_private=allow_private)
    if problem is not None:
        return problem
    at = now or datetime.now(timezone.utc)
    slug = f"{slugify(name)[:50] or 'app'}-{secrets.token_hex(3)}"
    app = SentryApp(uuid=str(uuid.uuid4()), slug=slug, name=name, org_id=org_id, webhook_url=webhook_url,
                    events=tuple(dict.fromkeys(events)), client_id=secrets.token_hex(32),
                    client_secret=secrets.token_hex(32), date_created=at)
    installation = Installation(uuid=str(uuid.uuid4()), app_uuid=app.uuid, app_slug=app.slug, org_id=org_id,
                                date_created=at)
    return app, installation
