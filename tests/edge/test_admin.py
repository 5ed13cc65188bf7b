"""Purge: off without a token, 401 with a wrong one, and then objects are really gone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import EdgeClient, ScriptedUpstream, settle

TOKEN = "s3cret-token"
TS = {"Content-Type": "video/mp2t"}


@pytest.fixture
async def admin_edge(make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str]) -> EdgeClient:
    edge = await make_edge(admin_token=TOKEN)
    for path in ("/vod/a/1.ts", "/vod/a/2.ts", "/vod/b/1.ts"):
        upstream[0].put(path, b"x" * 5000, headers=TS)
        await (await edge.get(path)).read()
    await settle(edge)
    return edge


async def purge(edge: EdgeClient, body: object, token: str = TOKEN) -> tuple[int, Any]:
    response = await edge.post(
        "/_admin/purge", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status, await response.json()


async def test_purge_by_path_and_by_prefix(admin_edge: EdgeClient) -> None:
    assert await purge(admin_edge, {"path": "/vod/a/1.ts?token=x"}) == (200, {"purged": 1})
    assert (await admin_edge.get("/vod/a/1.ts")).headers["X-Cache"] == "MISS"
    await settle(admin_edge)
    assert await purge(admin_edge, {"prefix": "/vod/a/"}) == (200, {"purged": 2})
    assert (await admin_edge.get("/vod/a/2.ts")).headers["X-Cache"] == "MISS"
    assert (await admin_edge.get("/vod/b/1.ts")).headers["X-Cache"] == "HIT"


@pytest.mark.parametrize(
    ("body", "token", "status", "error"),
    [
        ({"path": "/vod/a/1.ts"}, "wrong", 401, "bearer token"),
        ("not an object", TOKEN, 400, "exactly one"),
        ({"path": "/x", "prefix": "/y"}, TOKEN, 400, "exactly one"),
        ({"path": "relative"}, TOKEN, 400, "absolute"),
        ({"path": "/vod/../etc"}, TOKEN, 400, "path traversal"),
    ],
)
async def test_bad_purges_get_a_clear_4xx(
    admin_edge: EdgeClient, body: object, token: str, status: int, error: str
) -> None:
    got, answer = await purge(admin_edge, body, token)
    assert got == status
    assert error in answer["error"]
    assert (await admin_edge.get("/vod/a/1.ts")).headers["X-Cache"] == "HIT"


async def test_admin_is_off_without_a_token(edge: EdgeClient) -> None:
    got, answer = await purge(edge, {"path": "/vod/a/1.ts"}, "")
    assert got == 404
    assert "no admin_token" in answer["error"]
