"""The OpenAPI document of Picket's REST API (`picket.gateway.openapi`), for anyone: built from
the app's routes on first request, then served as built (the routes do not change)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from picket.gateway.openapi import document


async def openapi_document(request: Request) -> Response:
    state = request.app.state
    rendered = getattr(state, "openapi_document", None)
    if rendered is None:
        rendered = json.dumps(document(request.app.routes), ensure_ascii=False).encode()
        state.openapi_document = rendered
    return Response(rendered, media_type="application/json")


routes = [
    Route("/api/0/openapi.json", openapi_document, methods=["GET"]),
]
