"""Home: the library as a timeline, newest first, under day headings, the next page loaded as it scrolls into
view (htmx `revealed`)."""

from __future__ import annotations

from datetime import date
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from fasthtml.components import Button as PlainButton
from monsterui.all import *  # noqa: F403

from ui.widgets import Selectable

DENSE = 4  # pictures a day, on average over a month of the page, for that month to get day headings


TILES = "grid grid-cols-3 sm:grid-cols-4 md:grid-cols-5 lg:grid-cols-6 gap-1"


def Tile(rec: dict) -> FT:
    """A picture on the timeline: the thumbnail alone, edge to edge as in a phone's gallery; it opens the viewer,
    and its box selects it as an example picture, as a result card's does."""
    return Selectable(rec, TileButton(rec, PurePath(rec["path"]).name))


def TileButton(rec: dict, name: str) -> FT:
    return PlainButton(
        Img(src=f"/thumb/{rec['id']}", alt=name, loading="lazy", cls="w-full h-full object-cover"),
        type="button",
        cls="result-card photo-tile block w-full aspect-square overflow-hidden bg-muted focus:outline-none "
        "focus:ring-2 focus:ring-primary",
        title=name,
        hx_get=f"/preview?id={rec['id']}",
        hx_target="#modal-slot",
        hx_swap="innerHTML",
        data_id=str(rec["id"]),
        aria_label=f"Open {name}",
    )


def day_of(rec: dict) -> str:
    """The day a picture was taken, where it was taken ('' when undated)."""
    return (rec.get("taken_at") or "")[:10]


def heading_keys(records: list[dict]) -> list[str]:
    """Each picture's heading: its day ('2024-08-31') where its month is dense on this page, else its month
    ('2024-08'), so a sparse stretch does not become a column of one-picture days."""
    per_month: dict[str, list[str]] = {}
    for r in records:
        d = day_of(r)
        per_month.setdefault(d[:7], []).append(d)
    dense = {m for m, ds in per_month.items() if m and len(ds) / len(set(ds)) >= DENSE}
    return [day_of(r) if day_of(r)[:7] in dense else day_of(r)[:7] for r in records]


def day_heading(key: str) -> str:
    if not key:
        return "No date"
    if len(key) == 7:
        return f"{date.fromisoformat(key + '-01'):%B %Y}"
    d = date.fromisoformat(key)
    return f"{d:%A}, {d.day} {d:%B %Y}"


def TimelinePage(
    records: list[dict], after: str, last_day: str | None = None, taken: tuple[str, str] | None = None
) -> tuple:
    """One page of the timeline: its days or months (one continued from the page before gets no second
    heading) and, unless it is the last page, a sentinel that asks for the next one when it scrolls into view."""
    keys = heading_keys(records)
    if last_day:  # the day or month the page before ended in keeps its heading's granularity
        keys = [last_day if day_of(r).startswith(last_day) else k for r, k in zip(records, keys, strict=True)]
    days: list[tuple[str, list[dict]]] = []
    for rec, d in zip(records, keys, strict=True):
        if days and days[-1][0] == d:
            days[-1][1].append(rec)
        else:
            days.append((d, [rec]))
    parts = [
        Section(
            H4(day_heading(d), cls="text-sm font-medium mb-2 day-heading", data_day=d) if d != last_day else "",
            Div(*[Tile(r) for r in recs], cls=TILES),
            cls="day-section",
        )
        for d, recs in days
    ]
    more = (
        Div(
            Loading(cls=(LoadingT.dots, LoadingT.sm)),
            hx_get=f"/timeline?after={quote(after)}&day={quote(days[-1][0] if days else '')}"
            + (f"&taken_from={quote(taken[0])}&taken_to={quote(taken[1])}" if taken else ""),
            hx_trigger="revealed",
            hx_swap="outerHTML",
            cls="more-pictures flex justify-center py-4",
        )
        if after
        else ""
    )
    return (*parts, more)


def Timeline(records: list[dict], after: str, indexed: int, taken: tuple[str, str] | None = None, chip: Any = "") -> FT:
    """The home view in the results slot: the newest pictures first, more as the page scrolls; with a date
    (typed in the search box, or the Taken fields) the pictures of that span only, under its chip."""
    if not records:
        return Div(
            chip,
            P(
                "No pictures were taken then." if taken else
                "Index a folder, then search it by describing what is in the pictures.",
                cls="text-muted-foreground py-8 text-center",
            ),
            id="results",
            cls="mt-4 space-y-2",
        )  # fmt: skip
    return Div(
        H3("Your pictures" + ("" if taken else f" · {indexed:,}"), cls="text-base font-medium"),
        chip,
        *TimelinePage(records, after, taken=taken),
        id="results",
        cls="mt-4 space-y-6 photo-timeline",
    )
