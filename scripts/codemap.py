"""A map of the code: the figures issue 16 ("one way through the edge") quotes before and after.

    .venv/bin/python scripts/codemap.py [--root DIR] [--json] [--repeat N]
                                        [--only layers,sizes,walk,duplicates]

1. layers: each edge/ module's edge imports (ast, TYPE_CHECKING ones included) and the ones that
   go up the layers of DESIGN's layout. The flat layout from before the move is mapped to the new
   layers with the table of issue 16.
2. sizes: the largest functions and classes of edge/, classcast/ and origin/.
3. walk: scenario requests through a real in-process edge (`running_edge`, in front of a
   scripted origin on loopback), with the edge/ files each one's calls enter recorded by
   `sys.setprofile`, from the call of `ContentHandler.handle` until the answer is complete and
   every task the request started has ended. Per file: its stays (maximal runs of consecutive
   calls in it) and returns (stays in a file the same task had already left). `--repeat N` runs
   the walk N times in fresh processes and names the scenarios whose paths differed.
4. duplicates: the `duplicates` command over the tree.

`--root` is the tree to measure (a worktree of another commit, say); it is put first on sys.path,
so the walk imports and runs that tree's edge. The walk starts servers on loopback: it takes
/tmp/classcast-load.lock first (flock), unless this process already holds it (run under `flock`).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import contextvars
import dis
import fcntl
import importlib
import inspect
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any, TypeVar

from aiohttp import ClientSession, web

REPO = Path(__file__).resolve().parents[1]
LOCK = Path("/tmp/classcast-load.lock")
LOCK_HELD = "CODEMAP_LOAD_LOCK_HELD"
T = TypeVar("T")

# -- 1. layers -------------------------------------------------------------------------------

LAYER_DIRS = ("http", "serve", "cache", "node")
LEAVES = ("errors", "hls")
LAYER_ORDER = ("wiring", "http", "serve", "cache", "node", "leaf", "unmapped")
FORBIDDEN: dict[str, frozenset[str]] = {
    "http": frozenset({"cache", "serve", "node", "wiring"}),
    "cache": frozenset({"http", "serve", "node", "wiring"}),
    "serve": frozenset({"node", "wiring"}),
    "node": frozenset({"http", "serve", "wiring"}),
    "leaf": frozenset(LAYER_ORDER),  # a leaf imports nothing of edge
}
# issue 16: where each module of the flat layout goes (paths under edge/)
OLD_LAYERS = {
    **dict.fromkeys(
        [
            *("cache.py", "policy.py", "fill.py", "filler.py", "disk.py", "memory.py"),
            *("keys.py", "objects.py", "prefetch.py", "upstream.py", "sink.py"),
        ],
        "cache",
    ),
    **dict.fromkeys(
        [
            *("handlers.py", "responses.py", "admin.py", "signing.py", "playlist_tokens.py"),
            "dispatch.py",
        ],
        "serve",
    ),
    "ratelimit.py": "http",
    **dict.fromkeys(("node/supervisor.py", "node/worker.py"), "wiring"),
    **dict.fromkeys(("node/__init__.py", "node/wire.py", "node/hub.py", "node/link.py"), "node"),
    **dict.fromkeys(
        ("__init__.py", "metrics.py", "app.py", "config.py", "runtime.py", "__main__.py"), "wiring"
    ),
    "errors.py": "leaf",
}


@dataclass(frozen=True, slots=True)
class EdgeImport:
    target: str
    type_checking: bool  # only under `if TYPE_CHECKING:`


@dataclass(slots=True)
class EdgeModule:
    name: str
    path: str  # relative to the root
    layer: str
    imports: list[EdgeImport]


def is_new_layout(root: Path) -> bool:
    return (root / "edge" / "cache").is_dir()


def edge_modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((root / "edge").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def layer_of(path: Path, root: Path, new_layout: bool) -> str:
    """The issue 16 layer of a file under edge/."""
    inner = path.relative_to(root / "edge").as_posix()
    first = inner.split("/")[0].removesuffix(".py")
    if first == "http":
        return "http"
    if not new_layout:
        return OLD_LAYERS.get(inner, "unmapped")
    if first in LAYER_DIRS:
        return first
    return "leaf" if first in LEAVES else "wiring"


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
        if name == "TYPE_CHECKING":
            for statement in node.body:
                inside.update(id(sub) for sub in ast.walk(statement))
    return inside


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imports_of(module: str, path: Path, known: set[str]) -> list[EdgeImport]:
    tree = ast.parse(path.read_text(), str(path))
    guarded = _type_checking_nodes(tree)
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = _package_of(module, path).split(".")
                up = package[: len(package) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            # `from edge.cache import disk` names a module; `from edge.cache import X` a value
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for name in names:
            if name == "edge" or name.startswith("edge."):
                target = name
                while target not in known and "." in target:  # `import edge.a.b` -> a module
                    target = target.rpartition(".")[0]
                only_typing = id(node) in guarded
                found[target] = found.get(target, True) and only_typing
    return [EdgeImport(t, found[t]) for t in sorted(found) if t != module]


def layers(root: Path) -> dict[str, Any]:
    new_layout = is_new_layout(root)
    paths = edge_modules(root)
    known = set(paths)
    modules = [
        EdgeModule(
            name,
            path.relative_to(root).as_posix(),
            layer_of(path, root, new_layout),
            imports_of(name, path, known),
        )
        for name, path in paths.items()
    ]
    layer = {m.name: m.layer for m in modules}
    upward = [
        {
            "module": m.name,
            "imports": i.target,
            "from_layer": m.layer,
            "to_layer": layer[i.target],
            "type_checking": i.type_checking,
        }
        for m in modules
        for i in m.imports
        if layer[i.target] in FORBIDDEN.get(m.layer, frozenset())
    ]
    per_layer = Counter(m.layer for m in modules)
    return {
        "layout": "layered (edge/cache/ is a directory)" if new_layout else "flat (issue 16 map)",
        "modules_per_layer": {k: per_layer[k] for k in LAYER_ORDER if per_layer[k]},
        "modules": [asdict(m) for m in modules],
        "upward": upward,
    }


def print_layers(found: dict[str, Any]) -> None:
    print(f"== 1. import layers: {found['layout']}")
    counts = found["modules_per_layer"]
    total = sum(counts.values())
    print("modules per layer: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f" ({total})")
    upward = found["upward"]
    print(f"upward imports: {len(upward)}")
    for u in upward:
        typing_only = "  (TYPE_CHECKING)" if u["type_checking"] else ""
        layers_crossed = f"[{u['from_layer']} -> {u['to_layer']}]"
        print(f"  {u['module']} -> {u['imports']}  {layers_crossed}{typing_only}")
    print("edge-internal imports per module (* = only under TYPE_CHECKING):")
    for m in found["modules"]:
        named = [i["target"].removeprefix("edge.") + "*" * i["type_checking"] for i in m["imports"]]
        print(f"  {m['name']} [{m['layer']}]: {', '.join(named) or '-'}")


# -- 2. sizes --------------------------------------------------------------------------------

SIZED_PACKAGES = ("edge", "classcast", "origin")
LONG_FUNCTION = 50


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "function" or "class"
    name: str  # qualified: Class.method, outer.inner
    path: str
    line: int
    lines: int
    methods: int = 0


def blocks(path: Path, rel: str) -> list[Block]:
    found: list[Block] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{node.name}"
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if isinstance(node, ast.ClassDef):
                    methods = sum(
                        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in node.body
                    )
                    found.append(Block("class", name, rel, node.lineno, lines, methods))
                else:
                    found.append(Block("function", name, rel, node.lineno, lines))
                visit(node.body, f"{name}.")
            elif isinstance(
                node, ast.If | ast.Try | ast.With | ast.AsyncWith | ast.For | ast.While
            ):
                for part in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(node, part, [])
                    for sub in inner:
                        visit(sub.body if isinstance(sub, ast.ExceptHandler) else [sub], prefix)

    visit(ast.parse(path.read_text(), str(path)).body, "")
    return found


def sizes(root: Path, top: int) -> dict[str, Any]:
    every: list[Block] = []
    packages: dict[str, dict[str, Any]] = {}
    for package in SIZED_PACKAGES:
        files = sorted((root / package).rglob("*.py"))
        found = [b for p in files for b in blocks(p, p.relative_to(root).as_posix())]
        every += found
        packages[package] = _size_row(found, files)
    packages["all"] = _size_row(
        every, [p for k in SIZED_PACKAGES for p in (root / k).rglob("*.py")]
    )
    functions = sorted((b for b in every if b.kind == "function"), key=lambda b: -b.lines)
    classes = sorted((b for b in every if b.kind == "class"), key=lambda b: -b.lines)
    return {
        "packages": packages,
        "largest_functions": [asdict(b) for b in functions[:top]],
        "largest_classes": [asdict(b) for b in classes[:top]],
        "most_methods": [asdict(b) for b in sorted(classes, key=lambda b: -b.methods)[:top]],
    }


def _size_row(found: list[Block], files: list[Path]) -> dict[str, Any]:
    lengths = [b.lines for b in found if b.kind == "function"]
    return {
        "files": len(files),
        "lines": sum(len(p.read_text().splitlines()) for p in files),
        "functions": len(lengths),
        "functions_over_50": sum(n > LONG_FUNCTION for n in lengths),
        "median_function": statistics.median(lengths) if lengths else 0,
        "classes": sum(b.kind == "class" for b in found),
    }


def print_sizes(found: dict[str, Any]) -> None:
    print("\n== 2. sizes: edge/, classcast/, origin/ (a def or class counts from its def line to")
    print("its last line, docstring and nested defs included; every def counts, nested ones too)")
    print(
        f"{'package':<10} {'files':>5} {'lines':>6} {'functions':>9} {'>50 lines':>9} "
        f"{'median':>6} {'classes':>7}"
    )
    for name, row in found["packages"].items():
        print(
            f"{name:<10} {row['files']:>5} {row['lines']:>6} {row['functions']:>9} "
            f"{row['functions_over_50']:>9} {row['median_function']:>6.1f} {row['classes']:>7}"
        )
    print("largest functions:")
    for b in found["largest_functions"]:
        print(f"  {b['lines']:>4} lines  {b['path']}:{b['line']}  {b['name']}")
    print("largest classes (methods):")
    for b in found["largest_classes"]:
        where = f"{b['path']}:{b['line']}"
        print(f"  {b['lines']:>4} lines  {b['methods']:>3} methods  {where}  {b['name']}")
    print("most methods:")
    for b in found["most_methods"]:
        where = f"{b['path']}:{b['line']}"
        print(f"  {b['methods']:>4} methods  {b['lines']:>4} lines  {where}  {b['name']}")


# -- 3. the traced walk ----------------------------------------------------------------------

GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
RESUME = dis.opmap["RESUME"]  # 3.11+: RESUME 0 starts a frame, RESUME 1-3 resume it
SCENARIO_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 10.0
SIGN_KEY = "codemap-signing-key-0123456789"


@dataclass(slots=True)
class Strand:
    """One thread of control in a walk: a task, or one loop callback or worker-thread call."""

    label: str
    files: list[str] = field(default_factory=list)


class Walk:
    """The edge files entered by the calls of one traced request and what it started."""

    def __init__(self) -> None:
        self.strands: list[Strand] = []
        self.started: list[asyncio.Task[Any]] = []  # tasks created in the walk's context
        self._by_task: dict[asyncio.Task[Any], Strand] = {}
        self._loose: dict[int, Strand] = {}  # per thread: the callback or call being recorded
        self.unfinished = 0

    def strand_of_task(self, task: asyncio.Task[Any]) -> Strand:
        strand = self._by_task.get(task)
        if strand is None:
            name = task.get_name()
            if name.startswith("Task-"):  # an unnamed task: say what it runs
                name = getattr(task.get_coro(), "__qualname__", name)
            strand = self._by_task[task] = self._new(f"task {name}")
        return strand

    def strand_of_call(self, thread: int, frame: FrameType, is_root: bool, main: bool) -> Strand:
        strand = self._loose.get(thread)
        if strand is None or is_root:
            where = "callback" if main else "thread"
            strand = self._loose[thread] = self._new(f"{where} {frame.f_code.co_qualname}")
        return strand

    def _new(self, label: str) -> Strand:
        self.strands.append(Strand(label))
        return self.strands[-1]

    async def settle(self, limit_s: float) -> None:
        """Wait for every task the request started (and they started) to end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while pending := [t for t in self.started if not t.done()]:
            left = deadline - loop.time()
            if left <= 0:
                self.unfinished = len(pending)
                return
            await asyncio.wait(pending, timeout=left)


_WALK: contextvars.ContextVar[Walk | None] = contextvars.ContextVar("codemap_walk", default=None)


class Profiler:
    """A `sys.setprofile` function that records the start of each edge/ frame into the walk
    set in the current context (a task created in it, or a call it handed to a thread, inherits
    the context). Resuming a suspended coroutine or generator is not a call, so not recorded."""

    def __init__(self, root: Path) -> None:
        self.root = str(root) + os.sep
        self.edge = str(root / "edge") + os.sep
        self.main = threading.get_ident()
        self._codes: dict[CodeType, tuple[str | None, bytes | None]] = {}

    def module(self, code: CodeType) -> tuple[str | None, bytes | None]:
        """The file of an edge/ code object (else None), and its bytecode if it is resumable."""
        known = self._codes.get(code)
        if known is None:
            name = code.co_filename
            module = name[len(self.root) :] if name.startswith(self.edge) else None
            resumable = code.co_code if code.co_flags & GENERATOR_FLAGS else None
            known = self._codes[code] = (module, resumable)
        return known

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        module, resumable = self.module(frame.f_code)
        if module is None:
            return
        walk = _WALK.get()
        if walk is None:
            return
        if resumable is not None and not _starts(resumable, frame.f_lasti):
            return
        thread = threading.get_ident()
        task = asyncio.current_task() if thread == self.main else None
        if task is not None:
            strand = walk.strand_of_task(task)
        else:
            strand = walk.strand_of_call(thread, frame, self._is_root(frame), thread == self.main)
        strand.files.append(module)

    def _is_root(self, frame: FrameType) -> bool:
        caller = frame.f_back
        while caller is not None:
            if self.module(caller.f_code)[0] is not None:
                return False
            caller = caller.f_back
        return True


def _starts(bytecode: bytes, offset: int) -> bool:
    return 0 <= offset < len(bytecode) - 1 and bytecode[offset : offset + 2] == bytes((RESUME, 0))


def _task_factory(
    loop: asyncio.AbstractEventLoop,
    coro: Generator[Any, None, T] | Coroutine[Any, Any, T],
    /,
    **kwargs: Any,
) -> asyncio.Task[T]:
    """Tasks as usual; those created in a walk's context join the walk (a fill, a disk chore)."""
    task = asyncio.Task(coro, loop=loop, **kwargs)
    context = kwargs.get("context")
    walk = context.get(_WALK) if context is not None else _WALK.get()
    if walk is not None:
        walk.started.append(task)
    return task


@dataclass(slots=True)
class EdgeLib:
    """What the walk uses of the edge, found on either layout."""

    running_edge: Callable[..., contextlib.AbstractAsyncContextManager[Any]]
    build: Callable[..., Any]
    request: Callable[..., Any]
    cache_key: Callable[[str], Any]
    fake_clock: Callable[[], Any]
    sign_url: Callable[..., str] | None


def _attribute(modules: tuple[str, ...], name: str) -> Any:
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise LookupError(f"{name} not found in {' or '.join(modules)}")


def load_edge(root: Path) -> EdgeLib:
    sys.path.insert(0, str(root))
    edge = importlib.import_module("edge")
    where = Path(edge.__file__ or "").resolve()
    if not where.is_relative_to(root.resolve()):
        raise LookupError(f"edge was imported from {where}, not from {root}")
    try:
        sign_url = _attribute(("edge.serve.signing", "edge.signing"), "sign_url")
    except LookupError:
        sign_url = None
    return EdgeLib(
        running_edge=_attribute(("edge.app",), "running_edge"),
        build=_attribute(("edge.config",), "build"),
        request=_attribute(("edge.http.messages",), "Request"),
        cache_key=_attribute(("edge.cache.keys", "edge.keys"), "cache_key"),
        fake_clock=_attribute(("classcast.clock",), "FakeClock"),
        sign_url=sign_url,
    )


@dataclass(slots=True)
class Scripted:
    """What the scripted origin answers for one path. A body goes out in one write (so a fill
    reads it in one chunk, and the walk does not depend on how TCP splits it), or with a gate:
    the first half, then the rest once the gate opens."""

    body: bytes
    headers: dict[str, str]
    status: int = 200
    gate: asyncio.Event | None = None


class Origin:
    """A scripted upstream on loopback, as tests/edge/fakes.py's, with whole-body writes."""

    def __init__(self) -> None:
        self.objects: dict[str, Scripted] = {}
        self.hits: Counter[str] = Counter()
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        self.url = ""

    def put(self, path: str, body: bytes, headers: dict[str, str], **kwargs: Any) -> None:
        self.objects[path] = Scripted(body, headers, **kwargs)

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        obj = self.objects.get(request.path)
        if obj is None:
            return web.Response(status=404, text="no such object")
        etag = obj.headers.get("ETag")
        if etag and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=obj.headers)
        if obj.gate is None:
            return web.Response(status=obj.status, headers=obj.headers, body=obj.body)
        response = web.StreamResponse(status=obj.status, headers=obj.headers)
        response.content_length = len(obj.body)
        await response.prepare(request)
        half = len(obj.body) // 2
        await response.write(obj.body[:half])
        await obj.gate.wait()
        await response.write(obj.body[half:])
        await response.write_eof()
        return response


@dataclass(slots=True)
class Traced:
    """What the traced request got, and what its walk recorded."""

    status: int
    x_cache: str
    answer: str  # the answer's type
    parts: int  # streamed body parts read
    headers: bytes
    walk: Walk


class Stage:
    """One scenario's world: a scripted origin, a real edge in front of it (`running_edge`, its
    HTTP server on loopback), a client for the warm-up requests, and a clock moved by hand."""

    def __init__(self, lib: EdgeLib, profiler: Profiler, workdir: Path) -> None:
        self.lib = lib
        self.profiler = profiler
        self.workdir = workdir
        self.origin = Origin()
        self.clock = lib.fake_clock()
        self.edge: Any = None
        self._edge_stack: contextlib.AsyncExitStack | None = None
        self._session: ClientSession | None = None

    async def open(self) -> None:
        await self.origin.start()
        self._session = ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self.stop_edge()
        await self.origin.stop()

    async def start_edge(self, cache: str = "cache", **settings: Any) -> None:
        await self.stop_edge()
        config = self.lib.build(
            {
                "upstreams": [self.origin.url],
                "cache_dir": str(self.workdir / cache),
                "retries": 0,
                "prefetch_segments": 0,
                "node_id": "classcast-edge",
                "port": 0,
                "access_log": False,
                **settings,
            }
        )
        stack = contextlib.AsyncExitStack()
        self.edge = await stack.enter_async_context(self.lib.running_edge(config, clock=self.clock))
        self._edge_stack = stack

    async def stop_edge(self) -> None:
        if self._edge_stack is not None:
            stack, self._edge_stack = self._edge_stack, None
            await stack.aclose()

    async def get(self, target: str, headers: dict[str, str] | None = None) -> int:
        """A warm-up request through the edge's HTTP server; its body is read whole."""
        assert self._session is not None
        url = f"http://127.0.0.1:{self.edge.port}{target}"
        async with self._session.get(url, headers=headers) as response:
            await response.read()
            return response.status

    async def settle(self) -> None:
        """Until no fill runs (refreshes, disk commits)."""
        await wait_until(lambda: len(self.edge.cache.fills) == 0)

    async def origin_down(self) -> None:
        await self.origin.stop()
        await asyncio.sleep(0.05)  # the edge's pooled connection hears the close

    async def trace(
        self,
        target: str,
        headers: dict[str, str] | None = None,
        *,
        method: str = "GET",
        on_first_part: Callable[[], None] | None = None,
    ) -> Traced:
        """The walk of one request, from the handler's call to a complete answer and the end of
        every task it started."""
        request = self.lib.request(method, target, headers or {}, peer="127.0.0.1")
        walk = Walk()
        context = contextvars.copy_context()
        context.run(_WALK.set, walk)
        loop = asyncio.get_running_loop()
        sys.setprofile(self.profiler)
        try:
            task = loop.create_task(
                self._answer(request, on_first_part, walk), name="request", context=context
            )
            traced = await task
            await walk.settle(SETTLE_TIMEOUT_S)
        finally:
            sys.setprofile(None)
        return traced

    async def _answer(
        self, request: Any, on_first_part: Callable[[], None] | None, walk: Walk
    ) -> Traced:
        """As the protocol does: call the handler, await what must wait, read a streamed body
        to its end and release what the answer holds."""
        answer = self.edge.handler.handle(request)
        if inspect.isawaitable(answer):
            answer = await answer
        parts = 0
        if hasattr(answer, "parts"):  # StreamAnswer
            try:
                async for _part in answer.parts:
                    parts += 1
                    if parts == 1 and on_first_part is not None:
                        on_first_part()
            finally:
                answer.release()
        elif hasattr(answer, "fd"):  # FileAnswer: sent with sendfile, then released
            answer.release()
        kind = type(answer).__name__
        status, x_cache, head = int(answer.status), str(answer.x_cache), bytes(answer.headers)
        return Traced(status, x_cache, kind, parts, head, walk)


async def wait_until(ready: Callable[[], bool], limit_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not ready():
        if loop.time() > deadline:
            raise TimeoutError("waited too long")
        await asyncio.sleep(0.005)


# the objects the scenarios ask for
M3U8 = {"Content-Type": "application/vnd.apple.mpegurl"}
TS = {"Content-Type": "video/mp2t", "Cache-Control": "max-age=3600", "ETag": '"s1"'}
SEGMENT = bytes(range(256)) * 64  # 16 KiB: one read on loopback
VOD = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n" + b"#EXTINF:4.0,\nseg.ts\n" * 20 + b"#EXT-X-ENDLIST\n"


def live_playlist(sequence: int, target: int = 4) -> bytes:
    lines = ["#EXTM3U", f"#EXT-X-TARGETDURATION:{target}", f"#EXT-X-MEDIA-SEQUENCE:{sequence}"]
    for n in range(sequence, sequence + 6):
        lines += [f"#EXTINF:{target}.0,", f"seg_{n:05d}.ts"]
    return ("\n".join(lines) + "\n").encode()


def put_live(stage: Stage, path: str, sequence: int) -> None:
    headers = {**M3U8, "Cache-Control": "max-age=2", "ETag": f'"v{sequence}"'}
    stage.origin.put(path, live_playlist(sequence), headers)


async def warm_segment(stage: Stage, path: str, hits: int = 1) -> None:
    """Stored on disk (a miss, settled), then `hits` hits so its descriptor is open."""
    stage.origin.put(path, SEGMENT, dict(TS))
    await stage.get(path)
    await stage.settle()
    for _ in range(hits):
        await stage.get(path)


async def playlist_hit(stage: Stage) -> Traced:
    stage.origin.put("/v/ph/index.m3u8", VOD, {**M3U8, "ETag": '"p1"'})
    await stage.get("/v/ph/index.m3u8")
    return await stage.trace("/v/ph/index.m3u8")


async def segment_hit(stage: Stage) -> Traced:
    await warm_segment(stage, "/v/sh/seg.ts")
    return await stage.trace("/v/sh/seg.ts")


async def segment_hit_cold_descriptor(stage: Stage) -> Traced:
    await warm_segment(stage, "/v/sc/seg.ts", hits=0)
    await stage.start_edge()  # a restart: the index is read from disk, no file is open
    return await stage.trace("/v/sc/seg.ts")


async def cold_miss_streamed(stage: Stage) -> Traced:
    gate = asyncio.Event()
    stage.origin.put("/v/cm/seg.ts", SEGMENT, dict(TS), gate=gate)
    return await stage.trace("/v/cm/seg.ts", on_first_part=gate.set)


async def coalesced_waiter(stage: Stage) -> Traced:
    gate = asyncio.Event()
    stage.origin.put("/v/co/seg.ts", SEGMENT, dict(TS), gate=gate)
    first = asyncio.ensure_future(stage.get("/v/co/seg.ts"))  # starts the fill, untraced
    key = stage.lib.cache_key("/v/co/seg.ts")

    def head_known() -> bool:
        fill = stage.edge.cache.fills.get(key)
        return fill is not None and bool(fill.head.done())

    await wait_until(head_known)
    traced = await stage.trace("/v/co/seg.ts", on_first_part=gate.set)
    await first
    return traced


async def stale_while_revalidate(stage: Stage) -> Traced:
    put_live(stage, "/live/swr/index.m3u8", 1)
    await stage.get("/live/swr/index.m3u8")
    put_live(stage, "/live/swr/index.m3u8", 2)
    stage.clock.advance(3)  # past the 2 s freshness, inside the stale window
    return await stage.trace("/live/swr/index.m3u8")


async def expired_revalidated(stage: Stage) -> Traced:
    await stage.start_edge(segment_ttl=10)
    headers = {"Content-Type": "video/mp2t", "ETag": '"e1"'}
    stage.origin.put("/v/rv/seg.ts", SEGMENT, headers)
    await stage.get("/v/rv/seg.ts")
    await stage.settle()
    stage.clock.advance(11)
    return await stage.trace("/v/rv/seg.ts")


async def stale_if_error(stage: Stage) -> Traced:
    put_live(stage, "/live/sie/index.m3u8", 1)
    await stage.get("/live/sie/index.m3u8")
    await stage.origin_down()
    stage.clock.advance(7)  # expired, inside the stale-if-error window (2 target durations)
    return await stage.trace("/live/sie/index.m3u8")


async def down_without_copy(stage: Stage) -> Traced:
    await stage.origin_down()
    return await stage.trace("/v/dn/seg.ts")


async def live_past_cap(stage: Stage) -> Traced:
    put_live(stage, "/live/cap/index.m3u8", 1)
    await stage.get("/live/cap/index.m3u8")
    await stage.origin_down()
    stage.clock.advance(9)  # past two target durations: no stale copy may be served
    return await stage.trace("/live/cap/index.m3u8")


async def upstream_5xx(stage: Stage) -> Traced:
    stage.origin.put("/v/5x/seg.ts", b"origin broke\n", {"Content-Type": "text/plain"}, status=500)
    return await stage.trace("/v/5x/seg.ts")


async def upstream_404(stage: Stage) -> Traced:
    return await stage.trace("/v/nf/seg.ts")


async def bad_range(stage: Stage) -> Traced:
    await warm_segment(stage, "/v/br/seg.ts")
    return await stage.trace("/v/br/seg.ts", {"range": "bytes=99999999-"})


async def range_from_disk(stage: Stage) -> Traced:
    await warm_segment(stage, "/v/rg/seg.ts")
    return await stage.trace("/v/rg/seg.ts", {"range": "bytes=100-199"})


async def conditional_304(stage: Stage) -> Traced:
    await warm_segment(stage, "/v/nm/seg.ts")
    return await stage.trace("/v/nm/seg.ts", {"if-none-match": '"s1"'})


async def signed_rejected(stage: Stage) -> Traced:
    await stage.start_edge(sign_keys=[SIGN_KEY])
    expires = int(stage.clock()) + 600
    return await stage.trace(f"/vod/sr/seg.ts?cc_exp={expires}&cc_sig=bm90LWEtc2lnbmF0dXJl")


async def signed_playlist(stage: Stage) -> Traced:
    if stage.lib.sign_url is None:
        raise LookupError("no sign_url in edge.serve.signing or edge.signing")
    await stage.start_edge(sign_keys=[SIGN_KEY])
    stage.origin.put("/vod/sp/index.m3u8", VOD, {**M3U8, "ETag": '"p1"'})
    target = stage.lib.sign_url("/vod/sp/index.m3u8", SIGN_KEY, stage.clock(), 600)
    await stage.get(target)
    return await stage.trace(target)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    run: Callable[[Stage], Awaitable[Traced]]
    expect: tuple[int, str]  # status, X-Cache ("-": an error the edge made)
    header: str = ""  # a header the answer must carry
    extra: bool = False  # beyond the list of issue 16


SCENARIOS = (
    Scenario("playlist hit (memory)", playlist_hit, (200, "HIT")),
    Scenario("segment hit (disk)", segment_hit, (200, "HIT")),
    Scenario("cold segment miss (streamed)", cold_miss_streamed, (200, "MISS")),
    Scenario("coalesced waiter", coalesced_waiter, (200, "COALESCED")),
    Scenario("stale-while-revalidate hit", stale_while_revalidate, (200, "STALE")),
    Scenario("expired + 304 revalidated", expired_revalidated, (200, "REVALIDATED")),
    Scenario("upstream down, stale copy", stale_if_error, (200, "STALE")),
    Scenario("upstream down, no copy (502)", down_without_copy, (502, "-")),
    Scenario("live playlist past cap, down", live_past_cap, (503, "-"), "Retry-After"),
    Scenario("upstream 5xx passed through", upstream_5xx, (500, "MISS")),
    Scenario("upstream 404", upstream_404, (404, "MISS")),
    Scenario("bad Range (416)", bad_range, (416, "-")),
    Scenario("conditional 304 from cache", conditional_304, (304, "HIT")),
    Scenario("signed URL rejected", signed_rejected, (403, "-")),
    Scenario(
        "segment hit, descriptor closed", segment_hit_cold_descriptor, (200, "HIT"), extra=True
    ),
    Scenario("Range 206 from disk", range_from_disk, (206, "HIT"), extra=True),
    Scenario("signed playlist accepted", signed_playlist, (200, "HIT"), extra=True),
)


def runs(files: list[str]) -> list[tuple[str, int]]:
    """A strand's stays: maximal runs of consecutive calls in one file, with their lengths."""
    found: list[tuple[str, int]] = []
    for name in files:
        if found and found[-1][0] == name:
            found[-1] = (name, found[-1][1] + 1)
        else:
            found.append((name, 1))
    return found


def strand_figures(files: list[str]) -> tuple[Counter[str], Counter[str], int]:
    """Stays and returns per file (a return: a stay in a file this strand had left), and the
    number of moves from one file to another."""
    stays: Counter[str] = Counter()
    returns: Counter[str] = Counter()
    for name, _ in runs(files):
        returns[name] += name in stays
        stays[name] += 1
    return stays, returns, max(len(runs(files)) - 1, 0)


async def run_scenario(
    scenario: Scenario, lib: EdgeLib, profiler: Profiler, workdir: Path
) -> dict[str, Any]:
    stage = Stage(lib, profiler, workdir)
    try:
        async with asyncio.timeout(SCENARIO_TIMEOUT_S):
            await stage.open()
            await stage.start_edge()
            traced = await scenario.run(stage)
    except Exception as exc:  # a scenario this layout cannot run is said, not fatal
        why = f"{type(exc).__name__}: {exc}"
        return {"scenario": scenario.name, "extra": scenario.extra, "measured": False, "why": why}
    finally:
        with contextlib.suppress(Exception):
            await stage.close()
    got = (traced.status, traced.x_cache)
    lines = [line.partition(b":")[0].lower() for line in traced.headers.split(b"\r\n")]
    carried = not scenario.header or scenario.header.lower().encode() in lines
    as_expected = got == scenario.expect and carried
    strands = []
    for strand in traced.walk.strands:
        stays, returns, moves = strand_figures(strand.files)
        strands.append(
            {
                "label": strand.label,
                "calls": len(strand.files),
                "transitions": moves,
                "stays": dict(stays),
                "returns": dict(returns),
                "path": [[name, count] for name, count in runs(strand.files)],
            }
        )
    return {
        "scenario": scenario.name,
        "extra": scenario.extra,
        "measured": True,
        "answer": f"{traced.status} {traced.x_cache} {traced.answer}"
        + (f" ({traced.parts} parts)" if traced.parts else ""),
        "expected": f"{scenario.expect[0]} {scenario.expect[1]}"
        + (f" + {scenario.header}" if scenario.header else ""),
        "as_expected": as_expected,
        "unfinished_tasks": traced.walk.unfinished,
        "calls": sum(s["calls"] for s in strands),
        "transitions": sum(s["transitions"] for s in strands),
        "strands": strands,
    }


async def walk_all(root: Path) -> dict[str, Any]:
    try:
        lib = load_edge(root)
    except Exception as exc:  # this tree's edge cannot be imported: no scenario can run
        why = f"the edge could not be loaded: {type(exc).__name__}: {exc}"
        return summarise(
            [
                {"scenario": s.name, "extra": s.extra, "measured": False, "why": why}
                for s in SCENARIOS
            ],
            root,
        )
    profiler = Profiler(root)
    asyncio.get_running_loop().set_task_factory(_task_factory)
    results = []
    with tempfile.TemporaryDirectory(prefix="codemap-") as tmp:
        for number, scenario in enumerate(SCENARIOS):
            workdir = Path(tmp) / str(number)
            results.append(await run_scenario(scenario, lib, profiler, workdir))
            shutil.rmtree(workdir, ignore_errors=True)
    return summarise(results, root)


def summarise(results: list[dict[str, Any]], root: Path) -> dict[str, Any]:
    """Per module and per layer, summed over the scenarios measured."""
    new_layout = is_new_layout(root)
    measured = [r for r in results if r["measured"]]
    modules: dict[str, Counter[str]] = {}
    by_layer: dict[str, Counter[str]] = {}
    layer_moves = 0
    for result in measured:
        for strand in result["strands"]:
            files = [name for name, count in strand["path"] for _ in range(count)]
            stays, returns, _ = strand_figures(files)
            for name, count in runs(files):
                row = modules.setdefault(name, Counter())
                row["calls"] += count
            for name in stays:
                modules[name]["stays"] += stays[name]
                modules[name]["returns"] += returns[name]
            strand_layers = [layer_of(root / name, root, new_layout) for name in files]
            stays, returns, moves = strand_figures(strand_layers)
            layer_moves += moves
            for name in stays:
                row = by_layer.setdefault(name, Counter())
                row["stays"] += stays[name]
                row["returns"] += returns[name]
    per_module = [
        {"module": name, "layer": layer_of(root / name, root, new_layout), **row}
        for name, row in sorted(modules.items(), key=lambda item: (-item[1]["stays"], item[0]))
    ]
    per_layer = [{"layer": k, **by_layer[k]} for k in LAYER_ORDER if k in by_layer]
    return {
        "scenarios": results,
        "per_module": per_module,
        "per_layer": per_layer,
        "totals": {
            "scenarios_measured": len(measured),
            "scenarios_not_measured": len(results) - len(measured),
            "calls": sum(r["calls"] for r in measured),
            "stays": sum(m["stays"] for m in per_module),
            "returns": sum(m["returns"] for m in per_module),
            "transitions": sum(r["transitions"] for r in measured),
            "layer_transitions": layer_moves,
            "modules": len(per_module),
        },
    }


def fingerprint(found: dict[str, Any]) -> dict[str, Any]:
    """What must come out the same when the walk is run again."""
    return {
        r["scenario"]: [r.get("answer"), [[s["label"], s["path"]] for s in r.get("strands", [])]]
        for r in found["scenarios"]
    }


def repeated(root: Path, found: dict[str, Any], runs_wanted: int) -> dict[str, Any]:
    """Run the walk again in fresh processes (module-level memos, such as the cache key's, must
    start cold again): the scenarios whose answer or paths differed from the first run."""
    first = fingerprint(found)
    varied: set[str] = set()
    failed: list[str] = []
    for _ in range(runs_wanted - 1):
        command = [sys.executable, __file__, "--root", str(root), "--only", "walk", "--json"]
        held = {**os.environ, LOCK_HELD: "1"}  # by this process, for its children
        done = subprocess.run(command, capture_output=True, text=True, env=held)
        if done.returncode != 0:
            failed.append(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?")
            continue
        again = fingerprint(json.loads(done.stdout)["walk"])
        varied |= {name for name in first if again.get(name) != first[name]}
    return {"runs": runs_wanted - len(failed), "varied": sorted(varied), "failed": failed}


def walk(root: Path, repeat: int = 1) -> dict[str, Any]:
    with _load_lock():
        found = walk_once(root)
        if repeat > 1:
            found["stability"] = repeated(root, found, repeat)
    return found


def walk_once(root: Path) -> dict[str, Any]:
    logging.disable(logging.WARNING)  # the down scenarios' fill warnings are expected
    threading.setprofile(Profiler(root))  # worker threads (asyncio.to_thread) record too
    try:
        import uvloop  # as the edge runs in production and in the tests

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(walk_all(root))
    finally:
        threading.setprofile(None)
        logging.disable(logging.NOTSET)


@contextlib.contextmanager
def _load_lock() -> Iterator[None]:
    """The machine's load lock, unless this process holds it already (run under `flock`, or
    a child of a walk that holds it)."""
    inherited = any(os.path.realpath(f"/proc/self/fd/{fd}") == str(LOCK) for fd in _open_fds())
    if inherited or os.environ.get(LOCK_HELD) == "1":
        yield
        return
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _open_fds() -> list[str]:
    try:
        return os.listdir("/proc/self/fd")
    except OSError:
        return []


def short(module: str) -> str:
    return module.removeprefix("edge/").removesuffix(".py")


def print_walk(found: dict[str, Any]) -> None:
    print("\n== 3. traced walk of ContentHandler.handle")
    print("A strand is one task (the request's, and each task it started: fills, disk chores) or")
    print("one call handed to a worker thread. Its path is the sequence of edge/ files entered by")
    print("the Python calls it makes (sys.setprofile; a coroutine resuming is not a call), from")
    print("the handler's call until the answer is complete (a streamed body read to its end,")
    print("released) and every task the request started has ended. A stay is a maximal run of")
    print("calls in one file; a return is a stay in a file the strand had already left; a")
    print("transition is a move from one file to the next.")
    print(f"\n{'scenario':<33} {'answer':<37} {'ok':<3} {'calls':>5} {'strands':>7} {'trans':>5}")
    for r in found["scenarios"]:
        name = r["scenario"] + (" +" if r.get("extra") else "")
        if not r["measured"]:
            print(f"{name:<33} NOT MEASURED: {r['why']}")
            continue
        ok = "ok" if r["as_expected"] else "NO"
        print(
            f"{name:<33} {r['answer']:<37} {ok:<3} {r['calls']:>5} {len(r['strands']):>7} "
            f"{r['transitions']:>5}"
        )
        if not r["as_expected"]:
            print(f"{'':<33} expected {r['expected']}")
        if r["unfinished_tasks"]:
            print(f"{'':<33} {r['unfinished_tasks']} started task(s) still running at the end")
    print("(+ = beyond issue 16's list of scenarios)")
    totals = found["totals"]
    print(f"\n{'module':<31} {'layer':<8} {'calls':>6} {'stays':>6} {'returns':>7}")
    for m in found["per_module"]:
        print(
            f"{m['module']:<31} {m['layer']:<8} {m['calls']:>6} {m['stays']:>6} {m['returns']:>7}"
        )
    print(
        f"{'total (' + str(totals['modules']) + ' modules)':<40} {totals['calls']:>6} "
        f"{totals['stays']:>6} {totals['returns']:>7}"
    )
    print(
        f"transitions over {totals['scenarios_measured']} scenarios: {totals['transitions']}"
        + (
            f"; {totals['scenarios_not_measured']} not measured"
            if totals["scenarios_not_measured"]
            else ""
        )
    )
    print("\nthe same walk by layer (each file replaced by its layer, as in section 1):")
    print(f"{'layer':<10} {'stays':>6} {'returns':>7}")
    for row in found["per_layer"]:
        print(f"{row['layer']:<10} {row['stays']:>6} {row['returns']:>7}")
    print(f"moves from one layer to another: {totals['layer_transitions']}")
    if "stability" in found:
        stability = found["stability"]
        varied = ", ".join(stability["varied"]) or "none"
        print(
            f"runs compared: {stability['runs']} (fresh processes); scenarios that varied: {varied}"
        )
        for failure in stability["failed"]:
            print(f"a repeated run failed: {failure}")
    print_request_strands(found)
    print("\npaths (file x calls in a row):")
    for r in found["scenarios"]:
        if not r["measured"]:
            continue
        print(f"  {r['scenario']}")
        for s in r["strands"]:
            steps = " > ".join(short(n) + (f" x{c}" if c > 1 else "") for n, c in s["path"])
            print(f"    {s['label']}: {steps}")


# the files that hold the cache's lookups, the answers and the fetch, in either layout
CACHE_FILES = ("cache.py", "cache/cache.py")
ANSWER_FILES = ("responses.py", "serve/answers.py")
FETCH_FILES = ("filler.py", "cache/fetch.py")


def print_request_strands(found: dict[str, Any]) -> None:
    """The request's own task only (fills and chores left out): what the handler walks."""
    print("\nthe request's own task (the handler's path; the fill tasks it starts left out):")
    print(f"{'scenario':<33} {'trans':>5} {'returns':>7} {'cache':>5} {'answers':>7} {'fetch':>5}")
    total = [0, 0]
    for r in found["scenarios"]:
        request = [s for s in r.get("strands", []) if s["label"] == "task request"]
        if not r["measured"] or not request:
            continue
        files = [name for name, _ in request[0]["path"]]
        left: set[str] = set()
        returns = 0
        for before, here in zip([None, *files], files, strict=False):
            returns += here in left
            if before is not None:
                left.add(before)
        stays = {
            "cache": sum(f.endswith(CACHE_FILES) for f in files),
            "answers": sum(f.endswith(ANSWER_FILES) for f in files),
            "fetch": sum(f.endswith(FETCH_FILES) for f in files),
        }
        total[0] += len(files) - 1
        total[1] += returns
        print(
            f"{r['scenario']:<33} {len(files) - 1:>5} {returns:>7} {stays['cache']:>5} "
            f"{stays['answers']:>7} {stays['fetch']:>5}"
        )
    print(f"{'total':<33} {total[0]:>5} {total[1]:>7}  (cache/answers/fetch: stays in the file)")


# -- 4. duplicates ---------------------------------------------------------------------------

DUPLICATE_ROW = re.compile(r"^D\d+ ")
PLACE = re.compile(r"(\S+):\d+-\d+")


def duplicates(root: Path) -> dict[str, Any]:
    command = ["duplicates", "--repo", str(root), "--most", "200", "--seconds", "120"]
    if shutil.which("duplicates") is None:
        return {"measured": False, "why": "the duplicates command is not on PATH"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=root)
    lines = done.stdout.splitlines()
    rows = [line for line in lines if DUPLICATE_ROW.match(line)]
    ours = [
        line
        for line in rows
        if any(p.startswith(("edge/", "classcast/")) for p in PLACE.findall(line))
    ]
    pairs = re.match(r"(\d+) pairs", lines[0]) if lines else None
    return {
        "measured": True,
        "command": " ".join(command[:1] + command[3:]),
        "summary": lines[0] if lines else done.stderr.strip(),
        "pairs": int(pairs.group(1)) if pairs else 0,
        "rows_listed": len(rows),
        "edge_or_classcast": ours,
        "notes": [line for line in lines[1:] if not DUPLICATE_ROW.match(line)],
    }


def print_duplicates(found: dict[str, Any]) -> None:
    print("\n== 4. duplicates")
    if not found["measured"]:
        print(f"not measured: {found['why']}")
        return
    print(f"$ {found['command']}")
    print(found["summary"])
    print(
        f"pairs: {found['pairs']}; involving edge/ or classcast/: {len(found['edge_or_classcast'])}"
    )
    for line in found["edge_or_classcast"]:
        print(f"  {line}")
    for line in found["notes"]:
        print(f"  {line}")


# -- command line ----------------------------------------------------------------------------

SECTIONS = ("layers", "sizes", "walk", "duplicates")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=REPO, help="the tree to measure")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of text")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--top", type=int, default=10, help="rows in the largest-of lists")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the walk N times, in fresh processes, and compare",
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown or not (root / "edge").is_dir():
        print(
            f"codemap: unknown section {unknown}" if unknown else f"codemap: no edge/ in {root}",
            file=sys.stderr,
        )
        return 2
    report: dict[str, Any] = {"root": str(root), "commit": _commit(root)}
    runners: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]]] = {
        "layers": (lambda: layers(root), print_layers),
        "sizes": (lambda: sizes(root, args.top), print_sizes),
        "walk": (lambda: walk(root, args.repeat), print_walk),
        "duplicates": (lambda: duplicates(root), print_duplicates),
    }
    if not args.json:
        print(f"codemap of {root} at {report['commit']}")
    for section in SECTIONS:
        if section in chosen:
            measure, show = runners[section]
            report[section] = measure()
            if not args.json:
                show(report[section])
                sys.stdout.flush()
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


def _commit(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return done.stdout.strip() or "(not a git checkout)"


if __name__ == "__main__":
    sys.exit(main())
