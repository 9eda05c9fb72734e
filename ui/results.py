"""The results: a grid of cards (or groups of them by place), what each term was understood as, a map."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from fasthtml.components import Button as PlainButton
from monsterui.all import *  # noqa: F403

from ui.widgets import MODEL_COLOURS, MODEL_NAMES
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


def ResultCard(rec: dict, query: str = "") -> FT:
    name = PurePath(rec["path"]).name
    score = rec.get("score")
    url = f"/preview?id={rec['id']}" + (f"&q={quote(query)}" if query else "")
    return PlainButton(
        Div(
            Img(src=f"/thumb/{rec['id']}", alt=name, loading="lazy", cls="w-full h-full object-cover"),
            cls="aspect-square overflow-hidden rounded-md bg-muted",
        ),
        DivFullySpaced(
            Span(name, cls="truncate text-xs text-left", title=rec["path"]),
            Span(f"{score:.3f}", cls="text-xs tabular-nums text-muted-foreground shrink-0")
            if score is not None
            else "",
            cls="gap-1 mt-1 w-full",
        ),
        ContributionBar(rec.get("contributions", {}).get("models", {})),
        type="button",
        cls="result-card block w-full text-left p-1 rounded-lg hover:bg-muted focus:outline-none "
        "focus:ring-2 focus:ring-primary",
        hx_get=url,
        hx_target="#modal-slot",
        hx_swap="innerHTML",
        data_id=str(rec["id"]),
        data_score=f"{score:.6f}" if score is not None else "",
        aria_label=f"Open {name}",
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


GRID = "grid grid-cols-2 sm:grid-cols-3 md:grid-cols-4 lg:grid-cols-5 xl:grid-cols-6 gap-3"


def Results(
    hits: list[dict],
    title: str = "",
    empty: str = "",
    query: str = "",
    notes: list[Any] | None = None,
    groups: list[tuple[str, list[dict]]] | None = None,
    show_map: bool = False,
) -> FT:
    body: Any
    if hits and groups:
        body = Div(
            *[
                Section(
                    H4(f"{label} · {len(members)}", cls="text-sm font-medium mb-2 place-group"),
                    Div(*[ResultCard(h, query) for h in members], cls=GRID),
                )
                for label, members in groups
            ],
            cls="space-y-6",
        )
    elif hits:
        body = Div(*[ResultCard(h, query) for h in hits], cls=GRID)
    else:
        body = P(
            empty or "Index a folder, then search it by describing what is in the pictures.",
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
        ResultsMap(hits, query) if show_map and hits else "",
        body,
        id="results",
        cls="mt-4 space-y-2",
    )
