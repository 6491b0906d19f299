"""The AsyncAPI document of the public topics (`schemas/asyncapi.json`), for anyone: it describes
what a subscriber of the broker reads, and holds nothing of any organization."""

from __future__ import annotations

from functools import cache

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from picket.schemas.asyncapi import OUT


@cache
def _document() -> bytes:
    return OUT.read_bytes()


async def asyncapi_document(_: Request) -> Response:
    return Response(_document(), media_type="application/json")


routes = [
    Route("/api/0/asyncapi.json", asyncapi_document, methods=["GET"]),
]
