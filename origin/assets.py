"""The portal's static files (own script and style, hls.js from npm), held in memory.

Pages link each asset by a fingerprinted name (portal.<hash>.js) served as immutable, so an
edge may keep it for a year and a new build is simply a new URL; the plain name is served too,
with a short lifetime, for people and tools.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from origin.files import etag_for

log = logging.getLogger("origin.assets")

STATIC = Path(__file__).parent / "static"
HLS_JS = "hls.min.js"
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    etag: str
    modified: float | None
    content_type: str

    @property
    def fingerprinted(self) -> str:
        stem, dot, suffix = self.name.partition(".")
        return f"{stem}.{self.etag.strip(chr(34))[:12]}{dot}{suffix}"


def make_asset(name: str, body: bytes, modified: float | None) -> Asset:
    content_type = ASSET_TYPES.get(PurePosixPath(name).suffix, "application/octet-stream")
    return Asset(name, body, etag_for(body), modified, content_type)


def read_asset(name: str, path: Path) -> Asset:
    return make_asset(name, path.read_bytes(), path.stat().st_mtime)


class Assets:
    def __init__(self, items: Iterable[Asset]) -> None:
        self._by_name = {asset.name: asset for asset in items}
        self._by_fingerprint = {asset.fingerprinted: asset for asset in self._by_name.values()}

    def __repr__(self) -> str:
        return f"Assets({sorted(self._by_name)})"

    def find(self, name: str) -> tuple[Asset, bool] | None:
        """The asset and whether `name` is its fingerprinted (immutable) name."""
        asset = self._by_fingerprint.get(name)
        if asset is not None:
            return asset, True
        asset = self._by_name.get(name)
        return (asset, False) if asset is not None else None

    def paths(self) -> dict[str, str]:
        """Name -> `assets/<fingerprinted name>`, from the root: pages prefix their way there."""
        return {name: f"assets/{asset.fingerprinted}" for name, asset in self._by_name.items()}


def load_assets(hls_js: Path) -> Assets:
    """The files of origin/static/ plus hls.js if installed (a warning, not a failure, if not)."""
    items = [
        read_asset(path.name, path)
        for path in sorted(STATIC.iterdir())
        if path.suffix in ASSET_TYPES
    ]
    try:
        items.append(read_asset(HLS_JS, hls_js))
    except OSError as error:
        log.warning(
            "hls.js not found: browsers without native HLS cannot play (run scripts/setup)",
            extra={"path": str(hls_js), "error": error.strerror},
        )
    return Assets(items)
