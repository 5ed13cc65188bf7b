"""The portal's HTML, rendered on the server so the first paint never waits for the catalog.

Every URL is relative (`base` climbs from the page to the root), so the pages work behind any
edge or path prefix. Text goes through `html.escape`; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from origin.catalog import iso_time
from origin.models import Lesson
from origin.portal_view import ChannelCard, Shelf, Showing

SITE = "Online classroom"


@dataclass(frozen=True)
class Links:
    """How a page reaches the root and the assets (asset name -> path from the root)."""

    base: str
    assets: Mapping[str, str]

    def asset(self, name: str) -> str:
        return self.base + self.assets.get(name, f"assets/{name}")


def document(title: str, links: Links, body_class: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{escape(links.asset("portal.css"))}">
<script src="{escape(links.asset("portal.js"))}" defer></script>
</head>
<body class="{body_class}">
{body}
</body>
</html>
"""


def clock_time(unix_seconds: float) -> str:
    """A <time> in UTC; the page's script rewrites its text in the viewer's local time."""
    stamp = iso_time(unix_seconds)
    shown = stamp[11:16] if stamp.endswith(":00Z") else stamp[11:19]
    return f'<time datetime="{stamp}">{shown} UTC</time>'


def render_portal(cards: Sequence[ChannelCard], shelves: Sequence[Shelf], links: Links) -> str:
    body = f"""<a class="skip" href="#library">Skip to the lesson library</a>
<header class="bar"><h1>{SITE}</h1><p>Live lessons and the lesson library</p></header>
<main>
<section class="live" aria-labelledby="live-title">
<h2 id="live-title">Live channels</h2>
<ul class="cards" data-refresh="{escape(links.base)}api/channels">
{"".join(_channel_card(card, links) for card in cards)}</ul>
</section>
<section id="library" class="library" aria-labelledby="library-title" tabindex="-1">
<h2 id="library-title">Lesson library</h2>
{_library(shelves, links)}
</section>
</main>"""
    return document(SITE, links, "portal", body)


def _channel_card(card: ChannelCard, links: Links) -> str:
    href = f"{links.base}watch/live/{card.id}"
    return f"""<li><a class="card" href="{escape(href)}" data-channel="{escape(card.id)}">
<span class="card-title">{escape(card.title)} <span class="badge">Live</span></span>
{_on_air(card)}</a></li>
"""


def _on_air(card: ChannelCard) -> str:
    now = card.now
    playing = (
        f'<span class="now"><span class="label">Now</span> <span data-now>'
        f"{escape(now.title)}</span> <span data-now-times>{_span(now)}</span></span>"
        if now
        else '<span class="now"><span class="label">Now</span> <span data-now>Not started'
        "</span> <span data-now-times></span></span>"
    )
    return (
        f'{playing}\n<span class="next"><span class="label">Next</span> <span data-next>'
        f"{escape(card.next.title)}</span> at <span data-next-time>"
        f"{clock_time(card.next.start)}</span></span>\n"
    )


def _span(showing: Showing) -> str:
    return f"{clock_time(showing.start)}&ndash;{clock_time(showing.end)}"


def _library(shelves: Sequence[Shelf], links: Links) -> str:
    if not shelves:
        return "<p>No lessons yet.</p>"
    parts: list[str] = []
    grade = None
    for shelf in shelves:
        if shelf.grade != grade:
            if grade is not None:
                parts.append("</section>")
            grade = shelf.grade
            parts.append(f'<section class="grade"><h3>{escape(grade)}</h3>')
        parts.append(f'<h4>{escape(shelf.subject)}</h4>\n<ul class="lessons">')
        parts.extend(_lesson_item(lesson, links) for lesson in shelf.lessons)
        parts.append("</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _lesson_item(lesson: Lesson, links: Links) -> str:
    href = f"{links.base}watch/vod/{lesson.id}"
    return (
        f'<li><a class="lesson" href="{escape(href)}" data-lesson="{escape(lesson.id)}">'
        f'<span class="lesson-title">{escape(lesson.title)}</span> '
        f'<span class="meta">{duration_text(lesson.duration)}</span></a></li>'
    )


def duration_text(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


def render_not_found(message: str, links: Links) -> str:
    body = f"""<header class="bar"><h1>Not found</h1></header>
<main>
<p class="alert" role="alert">{escape(message)}</p>
<p><a class="card" href="{escape(links.base)}" data-back>Back to all classes</a></p>
</main>"""
    return document(f"Not found · {SITE}", links, "missing", body)
