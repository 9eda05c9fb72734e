"""The results: a grid of cards (or groups of them by place), what each term was understood as, a map."""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from fasthtml.components import Button as PlainButton
from monsterui.all import *  # noqa: F403

from geo.gazetteer import place_label
from search.options import PICTURE_BALANCE
from ui.widgets import MODEL_COLOURS, MODEL_NAMES, Selectable
from ui.worldmap import ResultsMap


def ContributionBar(by_model: dict[str, float]) -> FT:
    """Which model found it: each model's positive share of the score."""
    pos = {m: max(0.0, v) for m, v in by_model.items()}
    total = sum(pos.values())
    if len(by_model) < 2 or total <= 0:
        return ""
    title = " · ".join(f"{MODEL_NAMES.get(m, m)} {v:+.3f}" for m, v in by_model.items())
    return Div(
        *[
            Div(
                cls=f"{MODEL_COLOURS.get(m, 'bg-slate-400')} h-full",
                style=f"width:{100 * v / total:.1f}%",
                data_model=m,
            )
            for m, v in pos.items()
            if v > 0
        ],
        cls="contrib-bar flex h-1.5 w-full overflow-hidden rounded-full bg-muted mt-1",
        title=title,
    )


def MatchBar(match: float | None, by_model: dict[str, float]) -> FT:
    """How good a hit is, for people: a bar as long as its match (its score as a share of the best hit's),
    coloured by the models that found it (each model's positive share of the score)."""
    if match is None:
        return ""
    pos = {m: max(0.0, v) for m, v in by_model.items()}
    total = sum(pos.values())
    segments = [(m, v / total) for m, v in pos.items() if v > 0] if total > 0 else []
    title = f"{match:.0f}% of the best result's score" + (
        " · " + " · ".join(f"{MODEL_NAMES.get(m, m)} {v:+.3f}" for m, v in by_model.items())
        if len(by_model) > 1
        else ""
    )
    return Div(
        Div(
            *[
                Div(cls=f"{MODEL_COLOURS.get(m, 'bg-primary')} h-full", style=f"width:{100 * share:.1f}%", data_model=m)
                for m, share in (segments if len(by_model) > 1 else [("", 1.0)])
            ],
            cls="flex h-full overflow-hidden rounded-full" + ("" if len(by_model) > 1 else " bg-primary"),
            style=f"width:{max(match, 2):.1f}%",
        ),
        cls="contrib-bar match-bar h-1.5 w-full overflow-hidden rounded-full bg-muted mt-1",
        title=title,
        role="meter",
        aria_valuenow=f"{match:.0f}",
        aria_valuemin="0",
        aria_valuemax="100",
        aria_label="match",
    )


def short_date(rec: dict) -> str:
    """'14 Jul 2021': the day taken, on the camera's clock (what the timeline's headings use too)."""
    iso = rec.get("taken_at")
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).strftime("%-d %b %Y")
    except ValueError:
        return iso[:10]


def CardButton(rec: dict, query: str, balance: float = PICTURE_BALANCE) -> FT:
    """The card itself: it opens the viewer (with the search's balance, which splits its picture terms)."""
    name = PurePath(rec["path"]).name
    score, match = rec.get("score"), rec.get("match")
    when = short_date(rec)
    where = place_label(rec["place"], detail=False) if rec.get("place") else ""
    url = f"/preview?id={rec['id']}" + (f"&q={quote(query)}" if query else "")
    url += f"&balance={balance:g}" if query and balance != PICTURE_BALANCE else ""
    return PlainButton(
        Div(
            Img(src=f"/thumb/{rec['id']}", alt=name, loading="lazy", cls="w-full h-full object-cover"),
            cls="aspect-square overflow-hidden rounded-md bg-muted",
        ),
        DivFullySpaced(
            Span(when or name, cls="truncate text-xs text-left card-when", title=rec["path"]),
            Span(f"{match:.0f}%", cls="text-xs tabular-nums text-muted-foreground shrink-0 card-match")
            if match is not None
            else "",
            cls="gap-1 mt-1 w-full",
        ),
        Div(where, cls="truncate text-xs text-muted-foreground card-where", title=where) if where else "",
        MatchBar(match, rec.get("contributions", {}).get("models", {})),
        type="button",
        cls="result-card block w-full text-left p-1 rounded-lg hover:bg-muted focus:outline-none "
        "focus:ring-2 focus:ring-primary",
        hx_get=url,
        hx_target="#modal-slot",
        hx_swap="innerHTML",
        data_id=str(rec["id"]),
        data_score=f"{score:.6f}" if score is not None else "",
        aria_label=f"Open {name}" + (f", taken {when}" if when else "") + (f" in {where}" if where else ""),
    )


def ResultCard(rec: dict, query: str = "", balance: float = PICTURE_BALANCE) -> FT:
    """A result: the card, selectable as an example picture ('More like these', 'Less like these')."""
    return Selectable(rec, CardButton(rec, query, balance))


def DateChip(label: str, href: str) -> FT:
    """The date the query line named, as a chip; × is the same search without it."""
    return Div(
        Span("Taken", cls="text-xs text-muted-foreground"),
        Span(
            UkIcon("calendar", height=12),
            Span(label),
            A("×", href=href, cls="ml-1 px-1 rounded hover:bg-muted date-chip-remove", aria_label=f"Remove {label}"),
            cls="date-chip inline-flex items-center gap-1 rounded-full border px-2 text-xs",
            data_label=label,
        ),
        cls="flex items-center gap-2",
    )


def PictureNote(terms: list[tuple[str, float]]) -> FT:
    """The example pictures of the query, each small, for or against."""
    return Div(
        Span("By pictures:", cls="text-xs text-muted-foreground"),
        *[
            Span(
                Img(src=f"/thumb/{ref[1:]}", alt=ref, cls="h-8 w-8 rounded object-cover")
                if ref.startswith("#")
                else Span("dropped", cls="text-xs"),
                Span(("−" if w < 0 else "+") + (f"{abs(w):g} " if abs(w) != 1 else " ") + ref, cls="text-xs"),
                cls="picture-term inline-flex items-center gap-1 rounded border px-1 "
                + ("border-red-300" if w < 0 else "border-emerald-300"),
                data_ref=ref,
            )
            for ref, w in terms
        ],
        cls="picture-note flex flex-wrap items-center gap-2",
    )


def PlaceNote(text: str, label: str, alternatives: list[tuple[str, str]]) -> FT:
    """How a location term was understood, and links to the other places its name could mean."""
    return P(
        f"{text} → {label}",
        *(
            [Span(" · also: ", cls="ml-1")]
            + [
                A(alt, href=url, cls="place-alternative underline hover:text-foreground mr-2", data_place=alt)
                for alt, url in alternatives
            ]
            if alternatives
            else []
        ),
        cls="text-xs text-muted-foreground place-note",
    )


def MoreResults(url: str) -> FT:
    """The end of a list that may go on: the next page, swapped in for the whole list as this comes into view
    (the viewer's next also asks for it: styleseek.more)."""
    return Div(
        Loading(cls=(LoadingT.dots, LoadingT.sm)),
        hx_get=url,
        hx_trigger="revealed",
        hx_target="#results",
        hx_swap="outerHTML",
        cls="more-pictures more-results flex justify-center py-4",
    )


GRID = "grid grid-cols-2 sm:grid-cols-3 md:grid-cols-4 lg:grid-cols-5 xl:grid-cols-6 gap-3"


def Results(
    hits: list[dict],
    title: str = "",
    empty: Any = "",
    query: str = "",
    notes: list[Any] | None = None,
    groups: list[tuple[str, list[dict]]] | None = None,
    show_map: bool = False,
    map_url: str = "",
    more_url: str = "",
    balance: float = PICTURE_BALANCE,
) -> FT:
    """The results; `more_url`: the same search with another page, asked for as the list's end scrolls into
    view (or by the viewer stepping past the last), drawn in place of this list."""
    body: Any
    if hits and groups:
        body = Div(
            *[
                Section(
                    H4(f"{label} · {len(members)}", cls="text-sm font-medium mb-2 place-group"),
                    Div(*[ResultCard(h, query, balance) for h in members], cls=GRID),
                )
                for label, members in groups
            ],
            cls="space-y-6",
        )
    elif hits:
        body = Div(*[ResultCard(h, query, balance) for h in hits], cls=GRID)
    else:
        body = Div(
            empty or P("Index a folder, then search it by describing what is in the pictures."),
            cls="text-muted-foreground py-8 text-center",
        )
    legend = ""
    models = {m for h in hits for m in h.get("contributions", {}).get("models", {})}
    if len(models) > 1:
        legend = Div(
            *[
                Span(
                    Span(cls=f"inline-block w-2 h-2 rounded-full {MODEL_COLOURS.get(m, '')}"),
                    MODEL_NAMES.get(m, m),
                    cls="inline-flex items-center gap-1",
                )
                for m in sorted(models)
            ],
            cls="flex gap-3 text-xs text-muted-foreground",
            id="legend",
        )
    return Div(
        DivFullySpaced(H3(title, cls="text-base font-medium") if title else "", legend, cls="mb-1"),
        *(notes or []),
        ResultsMap(hits, query, map_url=map_url) if show_map and hits else "",
        body,
        MoreResults(more_url) if more_url and hits else "",
        id="results",
        cls="mt-4 space-y-2",
    )
