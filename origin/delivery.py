"""Write a decided answer to the client, applying the body plan of the fault injector."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from origin.faults import NO_FAULT, BodyPlan
from origin.http_rules import Answer

Sleep = Callable[[float], Awaitable[None]]


async def deliver(
    request: web.Request,
    answer: Answer,
    body: bytes,
    plan: BodyPlan = NO_FAULT,
    sleep: Sleep = asyncio.sleep,
) -> web.StreamResponse:
    if answer.status >= 400:
        return error_response(answer.status, answer.reason, answer.headers)
    if answer.status == 304:
        return web.Response(status=304, headers=answer.headers)
    payload = body[answer.start : answer.end]
    if plan == NO_FAULT or request.method == "HEAD" or not payload:
        # aiohttp keeps Content-Length and drops the body itself for HEAD.
        return web.Response(status=answer.status, headers=answer.headers, body=payload)
    return await _stream(request, answer, payload, plan, sleep)


async def _stream(
    request: web.Request, answer: Answer, payload: bytes, plan: BodyPlan, sleep: Sleep
) -> web.StreamResponse:
    response = web.StreamResponse(status=answer.status, headers=answer.headers)
    response.content_length = len(payload)  # the full length, even when we cut the body short
    await response.prepare(request)
    to_send = payload if plan.truncate_at is None else payload[: plan.truncate_at]
    step = plan.chunk_size if plan.bytes_per_second else len(to_send) or 1
    for offset in range(0, len(to_send), step):
        await response.write(to_send[offset : offset + step])
        if plan.bytes_per_second:
            await sleep(step / plan.bytes_per_second)
    if plan.truncate_at is not None:
        # Leave the client with fewer bytes than Content-Length promised, as a failing
        # upstream would; the connection cannot be reused after this.
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError
    await response.write_eof()
    return response


def error_response(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    """A short text body naming the problem; Cache-Control is set by the error middleware."""
    return web.Response(status=status, text=f"{status}: {reason}\n", headers=headers)
