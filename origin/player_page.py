"""The player page: one video, its controls, its quality choice and the next lesson."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from origin.models import Lesson, Rendition
from origin.pages import SITE, Links, clock_time, document
from origin.portal_view import ChannelCard


@dataclass(frozen=True)
class Player:
    """A player page: what to play and what to say around it."""

    kind: str  # "live" or "vod"
    id: str  # channel or lesson id
    title: str  # the lesson's title
    context: str  # "Grade 5 · live" or "Grade 5 · Math"
    master: str  # path from the root
    renditions: tuple[tuple[str, str, int], ...]  # (name, path from the root, bandwidth)
    next_html: str  # the "next lesson" paragraph, already rendered
    low_latency: bool = False  # an LL-HLS channel: hls.js plays it in lowLatencyMode


def render_player(player: Player, links: Links) -> str:
    base = escape(links.base)
    live = player.kind == "live"
    seek = (
        ""
        if live
        else '<button type="button" data-seek="-10">Back 10 s</button>\n'
        '<button type="button" data-seek="10">Forward 10 s</button>\n'
    )
    body = f"""<header class="bar">
<a class="back" href="{base}" data-back>← All classes</a>
<h1 id="title" data-title>{escape(player.title)}</h1>
<p class="context">{escape(player.context)}</p>
</header>
<main id="player" data-kind="{player.kind}" data-id="{escape(player.id)}"
 data-src="{base}{escape(player.master)}" data-hls="{escape(links.asset("hls.min.js"))}"
 data-refresh="{base}api/channels" data-low-latency="{str(player.low_latency).lower()}">
<div class="stage">
<video id="video" playsinline preload="auto"
 aria-label="{escape(("Live lesson: " if live else "Lesson: ") + player.title)}"></video>
</div>
<p id="status" class="status" role="status" aria-live="polite">Loading the video…</p>
<p id="behind" class="behind" data-behind hidden></p>
<div id="alert" class="alert" role="alert" hidden></div>
<div class="controls" role="group" aria-label="Playback">
<button type="button" id="play">Play</button>
<button type="button" id="mute" aria-pressed="false">Sound on</button>
{seek}<button type="button" id="fullscreen">Full screen</button>
<button type="button" id="retry" hidden>Try again</button>
</div>
<fieldset class="quality">
<legend>Quality</legend>
<button type="button" data-quality="auto" data-src="{base}{escape(player.master)}" \
aria-pressed="true">Auto</button>
{"".join(_quality_button(item, base) for item in player.renditions)}</fieldset>
<section class="up-next" aria-labelledby="next-title">
<h2 id="next-title">Next lesson</h2>
{player.next_html}
</section>
</main>"""
    return document(f"{player.title} · {SITE}", links, "watch", body)


def _quality_button(item: tuple[str, str, int], base: str) -> str:
    name, path, bandwidth = item
    return (
        f'<button type="button" data-quality="{escape(name)}" data-src="{base}{escape(path)}" '
        f'aria-pressed="false">{escape(name)} <small>{bandwidth / 1e6:.1f} Mb/s</small></button>\n'
    )


def quality_items(renditions: Sequence[Rendition], folder: str) -> tuple[tuple[str, str, int], ...]:
    """(name, rendition playlist path from the root, bandwidth), best first."""
    ordered = sorted(renditions, key=lambda item: item.bandwidth, reverse=True)
    return tuple((r.name, f"{folder}/{r.uri}", r.bandwidth) for r in ordered)


def live_next_html(card: ChannelCard) -> str:
    now = escape(card.now.title) if card.now else "Not started"
    return (
        f'<p data-channel="{escape(card.id)}"><span data-next>{escape(card.next.title)}</span>'
        f" at <span data-next-time>{clock_time(card.next.start)}</span>"
        f" on {escape(card.title)}. Now: <span data-now>{now}</span></p>"
    )


def vod_next_html(following: Lesson | None, links: Links) -> str:
    if following is None:
        href = f"{links.base}#library"
        return f'<p>The last lesson of its grade. <a href="{escape(href)}">Choose another</a>.</p>'
    href = f"{links.base}watch/vod/{following.id}"
    return f'<p><a href="{escape(href)}">{escape(following.title)}</a></p>'
