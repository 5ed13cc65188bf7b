"""Disk tier: restart keeps hits, crash leftovers go, the budget holds, failures proxy."""

from __future__ import annotations

import os
from pathlib import Path

from edge.cache.disk import DiskOwner, DiskView
from edge.cache.freshness import Freshness
from edge.cache.objects import ObjectMeta
from tests.edge.conftest import EdgeFactory
from tests.edge.fakes import ScriptedUpstream, settle

TS = {"Content-Type": "video/mp2t", "ETag": '"t"'}


META = ObjectMeta(
    key="/v/orphan.ts",
    kind="segment",
    status=200,
    content_type="video/mp2t",
    length=1000,
    etag='"o"',
    last_modified="",
    last_modified_ts=None,
    stored_at=1.0,
    initial_age=0.0,
    freshness=Freshness(60.0),
)


def data_files(root: Path) -> list[Path]:
    return sorted(root.glob("??/??/*.data"))


async def test_restart_rebuilds_the_index_and_serves_hits(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str], tmp_path: Path
) -> None:
    fake, _ = upstream
    bodies = {f"/v/seg_{n}.ts": os.urandom(100_000 + n) for n in range(5)}
    for path, body in bodies.items():
        fake.put(path, body, headers=TS)
    first = await make_edge(cache_dir=tmp_path / "c")
    for path in bodies:
        await (await first.get(path)).read()
    await first.close()
    second = await make_edge(cache_dir=tmp_path / "c")
    assert len(second.cache.disk) == 5
    for path, body in bodies.items():
        response = await second.get(path)
        assert response.headers["X-Cache"] == "HIT"
        assert await response.read() == body
    assert all(count == 1 for count in fake.hits.values())


async def test_crash_leftovers_are_discarded_at_start_up(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str], tmp_path: Path
) -> None:
    fake, _ = upstream
    for n in range(3):
        fake.put(f"/v/{n}.ts", bytes([n]) * 50_000, headers=TS)
    root = tmp_path / "c"
    first = await make_edge(cache_dir=root)
    for n in range(3):
        await (await first.get(f"/v/{n}.ts")).read()
    await first.close()
    good, truncated, bad_meta = data_files(root)
    with truncated.open("r+b") as f:
        f.truncate(1000)  # a torn write
    bad_meta.with_suffix(".meta").write_bytes(b"{not json")
    (root / "tmp" / "half-a-fill.part").write_bytes(b"x" * 10)
    orphan = good.parent / ("f" * 64 + "-1.data")
    orphan.write_bytes(b"data without metadata")
    second = await make_edge(cache_dir=root)
    assert len(second.cache.disk) == 1
    assert data_files(root) == [good]
    assert not list((root / "tmp").iterdir())
    hits = [(await second.get(f"/v/{n}.ts")).headers["X-Cache"] for n in range(3)]
    assert sorted(hits) == ["HIT", "MISS", "MISS"]


async def test_eviction_keeps_the_disk_within_its_budget(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str], tmp_path: Path
) -> None:
    fake, _ = upstream
    root = tmp_path / "c"
    edge = await make_edge(cache_dir=root, disk_bytes=1_000_000)
    disk = edge.cache.disk
    assert isinstance(disk, DiskOwner)
    for n in range(40):
        fake.put(f"/v/s{n}.ts", os.urandom(100_000), headers=TS)
        await (await edge.get(f"/v/s{n}.ts")).read()
        await settle(edge)
        await disk.deleted()  # the evicted files' unlinks run in threads: wait for them
        assert sum(p.stat().st_size for p in data_files(root)) <= 1_000_000
    cache = edge.cache
    await cache.disk.close()  # wait for the deleting thread work to finish
    assert sum(p.stat().st_size for p in data_files(root)) <= 1_000_000
    assert cache.disk.bytes_used <= 1_000_000
    assert cache.disk.evictions == 30
    newest = await edge.get("/v/s39.ts")
    assert newest.headers["X-Cache"] == "HIT"
    oldest = await edge.get("/v/s0.ts")
    assert oldest.headers["X-Cache"] == "MISS"


async def test_disk_failure_degrades_to_proxying(
    make_edge: EdgeFactory, upstream: tuple[ScriptedUpstream, str], tmp_path: Path
) -> None:
    fake, _ = upstream
    body = os.urandom(200_000)
    fake.put("/v/seg.ts", body, headers=TS)
    root = tmp_path / "c"
    edge = await make_edge(cache_dir=root)
    (root / "tmp").rmdir()
    (root / "tmp").write_bytes(b"")  # the temp area is now unusable: every open fails
    for _ in range(2):
        response = await edge.get("/v/seg.ts")
        assert response.status == 200
        assert response.headers["X-Cache"] == "MISS"
        assert await response.read() == body
    assert edge.stats.disk_errors == 2
    assert fake.hits["/v/seg.ts"] == 2


async def test_the_node_recovers_a_file_a_dead_worker_placed_but_never_reported(
    tmp_path: Path,
) -> None:
    root = tmp_path / "node"
    owner = DiskOwner(root, 10_000_000)
    await owner.load()
    worker = DiskView(root, 10_000_000)  # a worker's view of the same files
    meta = META
    temp = worker.temp_path(meta.key)
    temp.write_bytes(os.urandom(1000))
    placed = await worker.commit(meta, temp)  # ...and the worker dies before it tells the node
    lone = placed.path.with_name(f"{placed.path.stem.rpartition('-')[0]}-1.data")
    lone.write_bytes(b"half")  # a data file whose metadata never got written
    later = placed.path.with_name(f"{placed.path.stem.rpartition('-')[0]}-{2**62}.data")
    later.write_bytes(b"x")  # a takeover's, placed after the death: not the dead worker's
    await owner.recover(meta.key)
    assert owner.get(meta.key) is not None and owner.bytes_used == 1000
    await owner.close()
    assert placed.path.exists() and not lone.exists() and later.exists()


async def test_a_view_forgets_and_reports_but_only_the_owner_deletes(tmp_path: Path) -> None:
    root = tmp_path / "node"
    owner = DiskOwner(root, 10_000_000)
    await owner.load()
    view = DiskView(root, 10_000_000)
    assert await view.load() == 0  # a view learns entries from its owner, it never scans
    temp = view.temp_path(META.key)
    temp.write_bytes(os.urandom(1000))
    placed = await view.commit(META, temp)
    owner.adopt(placed)
    handle = await view.open_file(placed)
    handle.release()
    assert view.touched == {META.key}  # the hit goes to the owner's LRU order
    forgotten: list[Path] = []
    view.on_forget = lambda entry: forgotten.append(entry.path)
    assert view.discard_entry(placed)
    await view.close()
    assert forgotten == [placed.path] and placed.path.exists()  # told, not deleted
    assert owner.forget(META.key, placed.path)
    await owner.close()
    assert not placed.path.exists() and not placed.path.with_suffix(".meta").exists()
