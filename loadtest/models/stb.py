"""The set-top box: one fixed rendition for the whole session."""

from __future__ import annotations

from loadtest.models.actions import Response
from loadtest.models.session import SessionSettings, ViewerSession
from loadtest.playlist import Variant


class FixedRendition:
    """`lowest`, `highest`, or a rendition name such as `360p` (falls back to the highest)."""

    def __init__(self, choice: str) -> None:
        self.choice = choice

    def initial_level(self, variants: tuple[Variant, ...]) -> int:
        if self.choice == "lowest":
            return 0
        for index, variant in enumerate(variants):
            if variant.name == self.choice:
                return index
        return len(variants) - 1

    def after_segment(
        self, variants: tuple[Variant, ...], current: int, response: Response, buffer_s: float
    ) -> int:
        return current


def make_set_top_box(
    master_url: str, opened_at: float, rendition: str, settings: SessionSettings
) -> ViewerSession:
    return ViewerSession("stb", master_url, opened_at, FixedRendition(rendition), settings)
