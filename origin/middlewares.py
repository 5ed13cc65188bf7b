"""Request middlewares: counting, CORS, path guard, fault injection and error bodies."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from origin.appkeys import CONFIG, FAULTS, STATS
from origin.delivery import error_response
from origin.errors import RequestError
from origin.kinds import cache_control
from origin.paths import path_problem

log = logging.getLogger("origin.http")

ALLOWED_METHODS = "GET, HEAD, OPTIONS"
# Headers a web player (hls.js) may read or send across origins (Fetch standard, CORS).
EXPOSED_HEADERS = "Content-Length, Content-Range, Content-Type, ETag, Last-Modified, Age, Date"
ALLOWED_REQUEST_HEADERS = "Range, If-None-Match, If-Modified-Since, If-Range, Content-Type"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": EXPOSED_HEADERS,
}


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    request.app[STATS].record(request.path)
    return await handler(request)


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return preflight(request)
    try:
        response = await handler(request)
    except web.HTTPException as error:  # only raised if error_bodies is not installed
        response = error
    response.headers.update(CORS_HEADERS)
    return response


def preflight(request: web.Request) -> web.Response:
    asked = request.headers.get("Access-Control-Request-Headers")
    return web.Response(
        status=204,
        headers={
            **CORS_HEADERS,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": asked or ALLOWED_REQUEST_HEADERS,
            "Access-Control-Max-Age": "86400",
            "Cache-Control": "public, max-age=86400",
        },
    )


@web.middleware
async def error_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a 4xx/5xx with a short reason, never a traceback."""
    try:
        response = await handler(request)
    except RequestError as error:
        response = error_response(error.status, error.reason, error.headers or None)
    except web.HTTPException as error:
        response = _from_http_exception(request, error)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        response = error_response(500, "internal error")
    if response.status >= 400 and "Cache-Control" not in response.headers:
        # Short, so a lesson or segment that appears a moment later is not hidden for long.
        response.headers["Cache-Control"] = cache_control("error", request.app[CONFIG])
    return response


def _from_http_exception(request: web.Request, error: web.HTTPException) -> web.StreamResponse:
    if error.status < 400:
        return error
    reasons = {
        404: f"no such resource {request.path!r}",
        405: f"method {request.method} not allowed, use {ALLOWED_METHODS}",
    }
    response = error_response(error.status, reasons.get(error.status, error.reason))
    if error.status == 405:
        # RFC 9110 15.5.6: a 405 lists the methods the resource supports.
        response.headers["Allow"] = ALLOWED_METHODS
    return response


@web.middleware
async def guard_paths(request: web.Request, handler: Handler) -> web.StreamResponse:
    problem = path_problem(request.raw_path)
    if problem is not None:
        return error_response(400, problem)
    return await handler(request)


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    faults = request.app[FAULTS]
    delay = faults.latency_for(request.path)
    if delay:
        await asyncio.sleep(delay)
    status = faults.error_for(request.path)
    if status is not None:
        # no-store: a drill's failure must not outlive the drill in a cache.
        return error_response(status, "injected fault", {"Cache-Control": "no-store"})
    return await handler(request)


MIDDLEWARES = (count_requests, cors, error_bodies, guard_paths, inject_faults)
