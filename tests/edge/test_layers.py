"""The edge's imports only go down its layers (DESIGN, Layout): the cache never imports the
node, serving or HTTP; HTTP imports none of them; only the process wiring imports the node,
and the node never imports the wiring. Read from the source (imports under TYPE_CHECKING
count too: they are the same knowledge)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EDGE = Path(__file__).resolve().parents[2] / "edge"
WIRING = {"__main__", "app", "config", "supervisor", "worker", "metrics", "runtime", "__init__"}
LEAVES = {"errors", "hls"}
# each layer, and the layers it must not import
FORBIDDEN = {
    "http": {"cache", "serve", "node", "wiring"},
    "cache": {"http", "serve", "node", "wiring"},
    "serve": {"node", "wiring"},
    "node": {"http", "serve", "wiring"},
    "leaf": {"http", "serve", "cache", "node", "wiring"},
    "wiring": set(),
}


def layer_of(module: str) -> str | None:
    """The layer of a dotted edge module name (None: not the edge's)."""
    parts = module.split(".")
    if parts[0] != "edge":
        return None
    if len(parts) == 1:
        return "wiring"
    if parts[1] in ("http", "serve", "cache", "node"):
        return parts[1]
    if parts[1] in LEAVES:
        return "leaf"
    if parts[1] in WIRING:
        return "wiring"
    raise AssertionError(f"{module}: a module of no layer; add it to DESIGN's layout first")


def module_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    return ".".join(relative.parts)


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every module `path` imports (relative imports resolved), with its line."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path, root).rpartition(".")[0]
    if path.name == "__init__.py":
        package = module_name(path, root).removesuffix(".__init__")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            found.append((node.lineno, base))
    return found


def upward_imports(root: Path) -> list[str]:
    """Each import of an edge module from a layer that must not know it, as 'file:line -> name'."""
    wrong = []
    for path in sorted(root.rglob("*.py")):
        here = layer_of(module_name(path, root).removesuffix(".__init__"))
        assert here is not None
        for line, name in imports(path, root):
            try:
                there = layer_of(name)
            except AssertionError:
                there = layer_of(name.rpartition(".")[0])  # "from edge import x": x a name
            if there is not None and there in FORBIDDEN[here]:
                wrong.append(f"{path.relative_to(root.parent)}:{line} -> {name}")
    return sorted(set(wrong))


def test_every_edge_import_goes_down_the_layers() -> None:
    assert upward_imports(EDGE) == []


def test_the_check_finds_an_upward_import_even_under_type_checking(tmp_path: Path) -> None:
    fake = tmp_path / "edge"
    for layer in ("cache", "node", "http"):
        (fake / layer).mkdir(parents=True)
        (fake / layer / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "cache" / "cache.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from edge.cache.disk import DiskTier\n"
        "if TYPE_CHECKING:\n"
        "    from edge.node.link import NodeLink\n"
    )
    (fake / "http" / "server.py").write_text("from ..cache import keys\nimport edge.app\n")
    (fake / "node" / "hub.py").write_text("from edge.cache.disk import DiskTier\n")
    assert upward_imports(fake) == [
        "edge/cache/cache.py:4 -> edge.node.link",
        "edge/cache/cache.py:4 -> edge.node.link.NodeLink",
        "edge/http/server.py:1 -> edge.cache",
        "edge/http/server.py:1 -> edge.cache.keys",
        "edge/http/server.py:2 -> edge.app",
    ]


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("edge.http.protocol", "http"),
        ("edge.cache.coordinator", "cache"),
        ("edge.node.hub", "node"),
        ("edge.serve.admin", "serve"),
        ("edge.supervisor", "wiring"),
        ("edge.hls", "leaf"),
        ("edge", "wiring"),
        ("aiohttp.web", None),
    ],
)
def test_layer_of(module: str, layer: str | None) -> None:
    assert layer_of(module) == layer
