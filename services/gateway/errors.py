"""Sentry's error convention: a status code and `{"detail": "..."}`, never a bare 500."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.exceptions import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

NOT_FOUND = "The requested resource does not exist"
NO_PERMISSION = "You do not have permission to perform this action."


class ApiError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def not_found(detail: str = NOT_FOUND) -> ApiError:
    return ApiError(404, detail)


def forbidden(detail: str = NO_PERMISSION) -> ApiError:
    return ApiError(403, detail)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)


async def api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = {404: NOT_FOUND, 405: "Method not allowed."}.get(exc.status_code, str(exc.detail))
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


async def store_unavailable(request: Request, exc: Exception) -> Response:
    # The store did not answer (a worker serving embedded ClickHouse restarting, a server down):
    # the client is told to come back, as for a broker outage, instead of getting a 500.
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": "The store is unavailable; try again."}, status_code=503,
                        headers={"Retry-After": "1"})


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "Internal Error"}, status_code=500)


HANDLERS = {ApiError: api_error, HTTPException: http_error, OperationalError: store_unavailable,
            Exception: unexpected_error}


async def error_response(request: Request, exc: Exception) -> Response:
    """The answer the app's handlers give for `exc` (for endpoints served outside its router)."""
    handler = next(HANDLERS[cls] for cls in type(exc).__mro__ if cls in HANDLERS)  # Exception at the last
    return await handler(request, exc)
