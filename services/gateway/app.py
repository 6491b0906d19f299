"""The Starlette application of the gateway.

`create_app(runtime_factory)` builds the app; its lifespan opens the Kafka producer, the reply
waiter and the follower of the tenancy log (which keeps the caches of keys, tokens, organizations
and memberships current), and closes them on shutdown. Run it with `picket gateway` or
`picket run`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from picket.schemas.monitors import DeleteMonitor, UpsertMonitor
from picket.schemas.topics import COMMAND_REPLIES, TENANCY_LOG
from picket.blobs.store import open_blob_store
from picket.bus.commands import CommandClient, is_tenancy_command
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import producer as make_producer
from picket.bus.publisher import publisher as make_publisher
from picket.bus.replies import ReplyWaiter
from picket.bus.topics import Topics
from picket.config import Settings
from picket.gateway.auth import Authenticator
from picket.gateway.commands import CommandBus
from picket.gateway.errors import HANDLERS
from picket.gateway.fast_path import Gateway
from picket.gateway.health import Readiness, live, ready
from picket.gateway.horizons import Horizons
from picket.gateway.keys import KeyCache
from picket.gateway.metrics import MetricsMiddleware, metrics_endpoint
from picket.gateway.rate_limits import RateLimiter
from picket.gateway.request_body import Budget
from picket.gateway.request_id import RequestIdMiddleware
from picket.gateway.routes import (
    artifacts, events, feedback, ingest, integrations, issue_changes, keys, members, monitors, organizations, projects,
    releases, scim, stats, teams,
)
from picket.gateway.routes import asyncapi
from picket.gateway.routes import openapi
from picket.gateway.runtime import Runtime
from picket.gateway.tenancy_follower import TenancyFollower, accepted, apply
from picket.store.client import Store


# Starlette tries routes in order, each a regular expression: what SDKs send at volume first.
ROUTES: list[Any] = [
    *ingest.routes,
    Route("/_health/", live, methods=["GET"]),
    Route("/_health/ready", ready, methods=["GET"]),
    Route("/metrics", metrics_endpoint, methods=["GET"]),
    *asyncapi.routes,
    *openapi.routes,
    *organizations.routes,
    *teams.routes,
    *projects.routes,
    *keys.routes,
    *members.routes,
    *events.routes,
    *issue_changes.routes,
    *feedback.routes,
    *monitors.routes,
    *releases.routes,
    *artifacts.routes,
    *integrations.routes,
    *scim.routes,
    *stats.routes,
]


def build_app(lifespan: Any = None) -> Starlette:
    """The gateway's routes and error handlers around `lifespan`; without one, whoever serves the
    app sets `app.state.runtime` itself (tests do, with a fake)."""
    return Gateway(fast=ingest.fast_routes, routes=ROUTES, exception_handlers=HANDLERS,  # type: ignore[arg-type]
                   lifespan=lifespan, outer=[RequestIdMiddleware, MetricsMiddleware])


def create_app(settings: Settings, kafka: KafkaConnection, store: Store) -> Starlette:
    """The gateway app; Kafka clients are opened in its lifespan, the store is the caller's."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        topics = Topics(settings.topic_prefix, settings.app_id)
        producer = make_producer(kafka, idempotent=settings.idempotent_producer)
        waiter = ReplyWaiter(
            kafka,
            topics.name(COMMAND_REPLIES),
            COMMAND_REPLIES.partitions,
            instance_id=f"gateway-{uuid.uuid4().hex[:12]}",
        )
        publisher = make_publisher(kafka, producer, f"{settings.app_id}-gateway-{settings.gateway_id}"
                                   if settings.transactions else None)
        auth = Authenticator(store)
        key_cache = KeyCache(store)
        follower = TenancyFollower(
            kafka,
            topics.name(TENANCY_LOG),
            TENANCY_LOG.partitions,
            on_changes=lambda changes: apply(changes, key_cache, auth),
        )
        await producer.start()
        await waiter.start()
        await publisher.start()
        await follower.start()

        def on_accepted(command: Any) -> None:
            # Read-your-writes here: the verdict comes once the projection has the change, maybe
            # before the follower has read its events.
            if isinstance(command, (UpsertMonitor, DeleteMonitor)):
                app.state.runtime.monitors.forget(command.org_id, command.slug)
            elif is_tenancy_command(command):
                apply(accepted(command), key_cache, auth)

        bus = CommandBus(CommandClient(producer, waiter, topics, settings.reply_timeout, on_accepted=on_accepted))
        app.state.runtime = Runtime(
            settings=settings, store=store, auth=auth, bus=bus, producer=producer, publisher=publisher,
            keys=key_cache, rate_limiter=RateLimiter(), horizons=Horizons(store),
            body_budget=Budget(settings.body_budget), blobs=open_blob_store(settings.blob_store_url),
        )
        app.state.readiness = Readiness(settings, kafka)  # `/_health/ready`: clients made at its first look
        try:
            yield
        finally:
            await app.state.readiness.close()
            await follower.stop()
            await publisher.stop()
            await waiter.stop()
            await producer.stop()

    return build_app(lifespan)
