"""Page parts. Each takes plain data (records, snapshots) and returns FT; routes in app.py stay thin."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui (the other order loses styles)
from fasthtml.components import Button as PlainButton  # MonsterUI's Button is a styled uk-btn
from fasthtml.components import Input as PlainInput  # MonsterUI's Input adds text-box styling to every type
from fasthtml.components import Label as PlainLabel  # MonsterUI's Label is a boxed form label
from fasthtml.components import Select as PlainSelect  # MonsterUI's Select is a custom element; a native one here
from monsterui.all import *  # noqa: F403

from geo.gazetteer import place_label
from indexing.progress import ProgressSnapshot, duration_text
from search.query import Term
from search.records import orientation_text, taken_text
from ui.worldmap import ResultsMap

V = "/static/vendor"
LOCAL_ASSETS = {
    "franken_css": f"{V}/franken-core.min.css",
    "franken_js_core": f"{V}/franken-core.iife.js",
    "franken_icons": f"{V}/franken-icon.iife.js",
    "daisyui": f"{V}/daisyui-styled.css",
}
# htmx swaps 4xx/5xx answers too, so a bad query shows its message instead of silently doing nothing
HTMX_CONFIG = {
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "[45]..", "swap": True, "error": True},
    ],
    "includeIndicatorStyles": False,
}


def Headers() -> list:
    """MonsterUI's theme headers, pointed at the vendored files instead of CDNs (works offline)."""
    hdrs = Theme.slate._create_headers({**LOCAL_ASSETS, "tailwind": ""}, mode="light", daisy=True)
    # MonsterUI loads Tailwind's JIT script; we ship a prebuilt stylesheet instead (ui/vendor.sh)
    hdrs = [
        h
        for h in hdrs
        if not (
            getattr(h, "tag", "") == "script" and (h.attrs.get("src") == "" or "tailwind.config" in str(h.children))
        )
    ]
    return [
        Meta(charset="utf-8"),
        Meta(name="viewport", content="width=device-width, initial-scale=1"),
        Meta(name="htmx-config", content=json.dumps(HTMX_CONFIG)),
        Script(src=f"{V}/htmx.min.js"),
        *hdrs,
        Link(rel="stylesheet", href=f"{V}/tailwind.min.css"),  # after DaisyUI, so utilities win over components
        Link(rel="stylesheet", href="/static/styleseek.css"),
    ]


def Notice(text: str, kind: str = "error", cls: str = "", **kw: Any) -> FT:
    kind_cls = {
        "error": (AlertT.error, "bg-red-50 border-red-300 text-red-900"),
        "warning": (AlertT.warning, "bg-amber-50 border-amber-300 text-amber-900"),
        "info": (AlertT.info, "bg-sky-50 border-sky-300 text-sky-900"),
    }[kind]
    return Alert(P(text, cls="whitespace-pre-line text-sm"), cls=(*kind_cls, "rounded-lg", cls), data_kind=kind, **kw)


def ErrorFragment(message: str) -> FT:
    return Div(Notice(message), id="error", cls="my-4")


@dataclass
class SearchState:
    """What the search form shows: the one-line query, the builder's rows and the options."""

    q: str = ""
    k: int = 24
    rows: list[Term] = field(default_factory=list)
    balance: float = 0.5
    sort: str = "score"
    coherence: bool = False
    min_score: float | None = None
    drop_unplaced: bool = False
    group_by_place: bool = False
    show_map: bool = False
    taken_from: str = ""
    taken_to: str = ""
    camera: str = ""
    style_ok: bool = True
    style_note: str = ""

    def to_params(self) -> list[tuple[str, str]]:
        """The query string that reproduces this state (the inverse of app.search_state)."""
        p = [("q", self.q), ("k", str(self.k))]
        for t in self.rows:
            p += [("text", t.text), ("target", t.target), ("weight", f"{t.weight:g}")]
        p += [("balance", f"{self.balance:g}"), ("sort", self.sort)]
        p += [("coherence", "on")] if self.coherence else []
        p += [("min_score", f"{self.min_score:g}")] if self.min_score is not None else []
        p += [("unplaced", "drop")] if self.drop_unplaced else []
        p += [("group", "place")] if self.group_by_place else []
        p += [("map", "1")] if self.show_map else []
        p += [(k, v) for k, v in (("taken_from", self.taken_from), ("taken_to", self.taken_to)) if v]
        p += [("camera", self.camera)] if self.camera else []
        return p


MODEL_COLOURS = {
    "content": "bg-sky-500",
    "style": "bg-fuchsia-500",
    "texture": "bg-amber-500",
    "location": "bg-emerald-500",
}
MODEL_NAMES = {"content": "content", "style": "style", "texture": "texture", "location": "place"}


def IconButton(icon: str, label: str, cls: str = "", **kw: Any) -> FT:
    """A small icon-only button (not a submit button) with its label for screen readers."""
    return PlainButton(
        UkIcon(icon, height=14), type="button", aria_label=label, cls=f"p-1 rounded hover:bg-muted {cls}", **kw
    )


def TermRow(term: Term | None = None, style_ok: bool = True) -> FT:
    t = term or Term("", "content", 1.0)
    return Div(
        Input(
            name="text",
            value=t.text,
            placeholder="a term, e.g. van gogh style",
            cls="uk-input flex-1 min-w-0",
            aria_label="Term text",
        ),
        PlainSelect(
            Option("content", value="content", selected=t.target == "content"),
            Option("style", value="style", selected=t.target == "style", disabled=not style_ok),
            Option("location", value="location", selected=t.target == "location"),
            name="target",
            cls="uk-select w-28",
            aria_label="Model",
        ),
        PlainInput(
            type="range",
            name="weight",
            min="-1",
            max="1",
            step="0.05",
            value=f"{t.weight:g}",
            cls="weight-slider w-28 accent-slate-800 cursor-pointer",
            aria_label="Weight",
            oninput="this.nextElementSibling.textContent = (+this.value).toFixed(2)",
        ),
        Span(f"{t.weight:.2f}", cls="w-12 text-right text-sm tabular-nums weight-value"),
        IconButton(
            "x",
            "Remove term",
            "remove-term",
            onclick="const f = this.form; this.closest('.term-row').remove(); if (f) f.requestSubmit()",
        ),
        PlaceLabel("", pending=t.target == "location"),
        cls="term-row flex flex-wrap items-center gap-2",
        # a location row says which place it understood: asked on load and whenever the row changes
        hx_get="/place_label",
        hx_trigger="load, change" if t.target == "location" else "change",
        hx_include="this",
        hx_target="find .place-label",
        hx_swap="outerHTML",
    )


def PlaceLabel(text: str, error: bool = False, pending: bool = False) -> FT:
    """Under a builder row: how its place was understood ("Zurich, CH, 20 km"), or why it was not."""
    colour = "text-red-700" if error else "text-muted-foreground"
    return Span(
        "…" if pending else text,
        cls=f"place-label order-last basis-full pl-1 text-xs {colour} {'' if text or pending else 'hidden'}",
        data_error="1" if error else "",
    )


def suggest_request(url: str, include: str) -> dict[str, str]:
    """The htmx attributes of a button that asks for suggestions: the panel is replaced, the progress line
    shows meanwhile, and the button cannot be pressed twice."""
    return {
        "hx_get": url,
        "hx_include": include,
        "hx_target": "#suggestions",
        "hx_swap": "outerHTML",
        "hx_indicator": "#suggest-progress",
        "hx_disabled_elt": "this",
    }


def Checkbox(name: str, value: str, checked: bool, text: str, input_id: str | None = None, **kw: Any) -> FT:
    """A labelled checkbox of the search options."""
    box = PlainInput(type="checkbox", name=name, value=value, checked=checked, cls="uk-checkbox", id=input_id)
    return PlainLabel(box, Span(text), cls="flex items-center gap-2 text-sm", **kw)


def SearchForm(st: SearchState) -> FT:
    return Form(
        DivLAligned(
            Input(
                name="q",
                value=st.q,
                aria_label="Search",
                autofocus=True,
                cls="flex-1",
                id="q",
                placeholder="sunset over mountains, style: van gogh:0.9, -people",
            ),
            PlainSelect(
                *[Option(str(n), value=str(n), selected=(n == st.k)) for n in (12, 24, 48, 96)],
                name="k",
                aria_label="Number of results",
                cls="uk-select w-20",
            ),
            Button(UkIcon("search", height=16), Span("Search"), cls=(ButtonT.primary, "gap-2"), type="submit"),
            Button(
                UkIcon("sparkles", height=16),
                Span("Suggest"),
                type="button",
                id="suggest-button",
                cls=(ButtonT.default, "gap-2"),
                title="Suggest weighted terms for each model from the description in the search box",
                **suggest_request("/suggest", "#q"),
            ),
            Loading(cls=(LoadingT.spinner, LoadingT.sm), htmx_indicator=True, id="search-spinner"),
            cls="gap-2",
        ),
        Details(
            Summary("Terms, weights and options", cls="cursor-pointer text-sm text-muted-foreground"),
            Div(
                Div(*[TermRow(t, st.style_ok) for t in st.rows], id="terms", cls="space-y-2"),
                PlainButton(
                    UkIcon("plus", height=14),
                    Span("Add term"),
                    type="button",
                    id="add-term",
                    cls="inline-flex items-center gap-1 text-sm px-2 py-1 rounded hover:bg-muted",
                    hx_get="/term_row",
                    hx_target="#terms",
                    hx_swap="beforeend",
                ),
                P(st.style_note, cls="text-xs text-amber-700", id="style-note") if st.style_note else "",
                Div(
                    PlainLabel(
                        Span("Content"),
                        PlainInput(
                            type="range",
                            name="balance",
                            min="0",
                            max="1",
                            step="0.05",
                            value=f"{st.balance:g}",
                            cls="w-40 accent-slate-800 cursor-pointer",
                            id="balance",
                            aria_label="Content and style balance",
                        ),
                        Span("Style"),
                        cls="flex items-center gap-2 text-sm",
                    ),
                    PlainSelect(
                        Option("best match first", value="score", selected=st.sort == "score"),
                        Option("newest first", value="date", selected=st.sort == "date"),
                        name="sort",
                        cls="uk-select w-40",
                        aria_label="Order",
                    ),
                    Checkbox(
                        "coherence",
                        "1",
                        st.coherence,
                        "Style coherence",
                        title="Raise results whose style matches the style of the top results",
                    ),
                    PlainLabel(
                        Span("Min. score"),
                        Input(
                            type="number",
                            name="min_score",
                            step="0.01",
                            min="-1",
                            max="1",
                            value="" if st.min_score is None else f"{st.min_score:g}",
                            cls="uk-input w-24",
                            aria_label="Minimum score",
                        ),
                        cls="flex items-center gap-2 text-sm",
                    ),
                    Checkbox(
                        "unplaced",
                        "drop",
                        st.drop_unplaced,
                        "Drop images without a place",
                        title="Under location terms: leave out images with no GPS position",
                    ),
                    PlainLabel(
                        Span("Taken"),
                        Input(
                            type="date",
                            name="taken_from",
                            value=st.taken_from,
                            cls="uk-input w-40",
                            aria_label="Taken from",
                        ),
                        Span("to"),
                        Input(
                            type="date", name="taken_to", value=st.taken_to, cls="uk-input w-40", aria_label="Taken to"
                        ),
                        cls="flex items-center gap-2 text-sm",
                    ),
                    PlainLabel(
                        Span("Camera"),
                        Input(
                            name="camera",
                            value=st.camera,
                            cls="uk-input w-36",
                            placeholder="e.g. EOS",
                            aria_label="Camera",
                        ),
                        cls="flex items-center gap-2 text-sm",
                    ),
                    Checkbox("group", "place", st.group_by_place, "Group by place", input_id="group-by-place"),
                    Checkbox("map", "1", st.show_map, "Map", input_id="show-map"),
                    cls="flex flex-wrap items-center gap-4 pt-2",
                ),
                cls="space-y-2 pt-3",
            ),
            open=bool(st.rows or st.drop_unplaced or st.taken_from or st.taken_to or st.camera)
            or st.group_by_place
            or st.show_map
            or st.balance != 0.5
            or st.sort != "score"
            or st.coherence
            or st.min_score is not None,
            cls="mt-2",
            id="term-builder",
        ),
        hx_get="/search",
        hx_target="#results",
        hx_swap="outerHTML",
        hx_push_url="true",
        hx_trigger="submit, change delay:250ms",
        hx_indicator="#search-spinner",
        id="search-form",
    )


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
        ContributionBar(rec.get("by_model", {})),
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
    models = {m for h in hits for m in h.get("by_model", {})}
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


def DetailRow(label: str, value: Any, path: bool = False) -> FT:
    """A label and its value; a path may break anywhere, words only where they must."""
    wrap = {"cls": "break-all"} if path else {"style": "overflow-wrap:anywhere"}
    return Tr(Td(label, cls="text-muted-foreground pr-4 align-top whitespace-nowrap"), Td(value, **wrap))


def Breakdown(contrib: dict, score: float) -> FT:
    """The full breakdown of one image's score: each term's similarity and share, and each model's total."""
    rows = [
        Tr(
            Td(t["text"]),
            Td(MODEL_NAMES.get(t["target"], t["target"])),
            Td(f"{t['weight']:+.2f}"),
            Td("—" if t["similarity"] is None else f"{t['similarity']:.3f}"),
            Td(f"{t['contribution']:+.3f}"),
            cls="tabular-nums",
        )
        for t in contrib["terms"]
    ]
    models = " · ".join(f"{MODEL_NAMES.get(m, m)} {v:+.3f}" for m, v in contrib["models"].items())
    return Div(
        H4(f"Why it matched: score {score:.3f}", cls="text-sm font-medium"),
        Table(
            Thead(Tr(Th("term"), Th("model"), Th("weight"), Th("similarity"), Th("share"))),
            Tbody(*rows),
            cls="text-xs w-full mt-1",
            id="breakdown",
        ),
        P(models, cls="text-xs text-muted-foreground mt-1"),
        ContributionBar(contrib["models"]),
        cls="mt-4",
    )


def SimilarButton(image_id: int, label: str, balance: float, primary: bool = False, **kw: Any) -> FT:
    return Button(
        label,
        cls=(ButtonT.primary if primary else ButtonT.default, "uk-modal-close"),
        type="button",
        hx_get=f"/similar?id={image_id}&balance={balance:g}",
        hx_target="#results",
        hx_swap="outerHTML",
        hx_push_url="true",
        **kw,
    )


def TakenValue(rec: dict, time_display: str) -> FT:
    """The time taken on the chosen clock, and on the other one beneath it where the offset is known."""
    main = taken_text(rec, time_display)
    other = taken_text(rec, "here" if time_display == "taken" else "taken") if rec.get("taken_at_utc") else None
    return Div(main, *([Div(other, cls="text-xs text-muted-foreground")] if other and other != main else []))


def Sources(rec: dict) -> FT | str:
    """Where values came from, where it was not the EXIF: 'GPS: XMP sidecar IMG_1234.xmp'."""
    names = {"taken_at": "date", "gps": "GPS", "offset": "time zone", "camera": "camera"}
    other = [f"{names.get(k, k)}: {v}" for k, v in rec.get("sources", {}).items() if v != "EXIF" and k != "orientation"]
    return DetailRow("From", " · ".join(other)) if other else ""


def PreviewModal(
    rec: dict,
    breakdown: tuple[dict, float] | None = None,
    style_ok: bool = True,
    balance: float = 0.5,
    time_display: str = "taken",
) -> FT:
    gps = rec.get("gps")
    gps_text = (
        (f"{gps['lat']:.5f}, {gps['lon']:.5f}" + (f" · {gps['alt']:.0f} m" if gps.get("alt") is not None else ""))
        if gps
        else "—"
    )
    rating = rec.get("rating")
    optional = [
        ("Title", rec.get("title")),
        ("Description", rec.get("description")),
        ("Keywords", ", ".join(rec.get("keywords") or [])),
        ("Rating", ("rejected" if rating == -1 else "★" * rating + "☆" * (5 - rating)) if rating is not None else ""),
        ("Also", Div(*[Div(PurePath(p).name, title=p) for p in rec.get("companions") or []])),
        ("Sidecar", Div(*[Div(PurePath(p).name, title=p) for p in rec.get("sidecars") or []])),
    ]
    details = Table(
        Tbody(
            DetailRow("File", rec["path"], path=True),
            *[DetailRow(k, v) for k, v in optional[4:] if (v.children if hasattr(v, "children") else v)],
            DetailRow("Size", f"{rec['width']} × {rec['height']} px · {rec['format']}"),
            DetailRow("Taken", TakenValue(rec, time_display)),
            *[DetailRow(k, v) for k, v in optional[:4] if v],
            DetailRow("Camera", rec.get("camera") or "—"),
            DetailRow("GPS", gps_text),
            DetailRow("Place", place_label(rec["place"]) if rec.get("place") else "—"),
            DetailRow("Orientation", orientation_text(rec)),
            Sources(rec),
            *([DetailRow("Notes", rec["notes"])] if rec.get("notes") else []),
        ),
        cls="text-sm w-full",
    )
    return Modal(
        Div(
            Div(
                Img(
                    src=f"/full/{rec['id']}",
                    alt=PurePath(rec["path"]).name,
                    cls="max-h-[70vh] w-auto mx-auto rounded-md",
                    id="preview-img",
                ),
                cls="flex-1 min-w-0",
            ),
            Div(details, Breakdown(*breakdown) if breakdown else "", cls="lg:w-96 shrink-0"),
            cls="flex flex-col lg:flex-row gap-6",
        ),
        header=DivFullySpaced(
            ModalTitle(PurePath(rec["path"]).name, cls="text-lg truncate"),
            ModalCloseButton(cls="p-1", type="button", aria_label="Close"),
        ),
        footer=DivRAligned(
            Span("Find similar:", cls="text-sm text-muted-foreground"),
            SimilarButton(rec["id"], "Content", 0.0, primary=not style_ok, id="find-similar"),
            *(
                [
                    SimilarButton(
                        rec["id"],
                        "Balanced",
                        balance if 0 < balance < 1 else 0.5,
                        primary=True,
                        id="find-similar-balanced",
                    ),
                    SimilarButton(rec["id"], "Style", 1.0, id="find-similar-style"),
                ]
                if style_ok
                else []
            ),
            Button(
                "Nearby",
                cls=(ButtonT.default, "uk-modal-close"),
                type="button",
                hx_get=f"/similar?id={rec['id']}&balance={balance:g}&within_km=25",
                hx_target="#results",
                hx_swap="outerHTML",
                hx_push_url="true",
                id="find-similar-nearby",
                title="Balanced, among images taken within 25 km",
            )
            if rec.get("gps")
            else "",
            Button("Close", cls=(ButtonT.ghost, "uk-modal-close"), type="button"),
            cls="gap-2 flex-wrap",
        ),
        id="preview-modal",
        dialog_cls="uk-width-5-6 max-w-6xl",
        hx_open=True,
    )


def ProgressView(s: ProgressSnapshot | None) -> FT:
    if s is None:
        return Div(id="index-progress")
    pct = round(100 * s.fraction)
    stats = f"{s.done:,} / {s.total:,} files · {s.indexed:,} new · {s.unchanged:,} unchanged"
    if s.phase == "style" and s.running:  # content search works already; the style spaces are being added
        eta = s.eta_seconds
        stats = (
            f"Content search ready for {s.content_ready:,} images · style {pct}% "
            f"({s.filled:,} / {s.fill_total:,}{f', about {duration_text(eta)} left' if eta is not None else ''})"
        )
    if s.moved:
        stats += f" · {s.moved:,} moved"
    if s.removed:
        stats += f" · {s.removed:,} removed"
    if s.filled:
        stats += f" · {s.filled:,} gained style vectors"
    stats += f" · {s.failed:,} failed" if s.phase != "style" or not s.running or s.failed else ""
    if s.skipped:  # videos, Live Photo movies, sidecars: not pictures, and not errors either
        stats += f" · {s.skipped:,} not pictures, skipped"
    if s.rate:
        stats += f" · {s.rate:.1f} img/s"
    state_label = {
        "scanning": "Scanning…",
        "indexing": "Indexing…",
        "finishing": "Finishing…",
        "done": "Done",
        "cancelled": "Cancelled",
        "failed": "Failed",
    }.get(s.state, s.state)
    errors = (
        Details(
            Summary(f"{len(s.recent_errors)} skipped files", cls="cursor-pointer text-sm"),
            Ul(
                *[
                    Li(Span(PurePath(p).name, cls="font-medium"), f": {e}", title=p, cls="text-xs")
                    for p, e in s.recent_errors
                ],
                cls="mt-1 space-y-1",
            ),
            cls="mt-2",
        )
        if s.recent_errors
        else ""
    )
    poll = {"hx_get": "/index_progress", "hx_trigger": "every 500ms", "hx_swap": "outerHTML"} if s.running else {}
    return Div(
        DivFullySpaced(
            Span(state_label, cls="text-sm font-medium", id="index-state", data_state=s.state),
            Button(
                "Cancel",
                cls=(ButtonT.ghost, ButtonT.xs),
                type="button",
                hx_post="/index_cancel",
                hx_target="#index-progress",
                hx_swap="outerHTML",
                id="index-cancel",
            )
            if s.running
            else "",
        ),
        Progress(value=str(s.done), max=str(max(s.total, 1)), id="index-bar", aria_label=f"{pct}%"),
        P(stats, cls="text-xs text-muted-foreground tabular-nums", id="index-stats"),
        P(s.message, cls="text-xs text-destructive") if s.state == "failed" else "",
        errors,
        id="index-progress",
        cls="space-y-2 mt-3",
        **poll,
    )


def FolderList(folders: list[dict]) -> FT:
    items = [
        Li(
            DivFullySpaced(
                Span(f["path"], cls="truncate text-sm", title=f["path"]),
                Span(
                    f"{f['indexed']:,}" + (f" · {f['failed']} failed" if f["failed"] else ""),
                    cls="text-xs text-muted-foreground shrink-0 tabular-nums",
                ),
                IconButton(
                    "refresh-cw",
                    f"Update {f['path']}",
                    "shrink-0",
                    title=f"Update {f['path']}: index new and changed files, drop deleted ones",
                    hx_post="/index_start",
                    hx_vals=json.dumps({"path": f["path"]}),
                    hx_target="#index-progress",
                    hx_swap="outerHTML",
                ),
                cls="gap-2",
            )
        )
        for f in folders
    ]
    return Div(
        H4("Indexed folders", cls="text-sm font-medium mt-4 mb-1"),
        Ul(*items, cls="space-y-1") if items else P("None yet.", cls="text-sm text-muted-foreground"),
        id="folders",
        hx_get="/folders",
        hx_trigger="folders-changed from:body",
        hx_swap="outerHTML",
    )


def IndexPanel(folders: list[dict], progress: ProgressSnapshot | None) -> FT:
    return Card(
        Form(
            LabelInput("Folder to index", id="path", name="path", placeholder="/home/me/Pictures"),
            Button(
                UkIcon("folder-sync", height=16),
                Span("Index"),
                cls=(ButtonT.primary, "w-full gap-2 mt-2"),
                type="submit",
                id="index-btn",
            ),
            hx_post="/index_start",
            hx_target="#index-progress",
            hx_swap="outerHTML",
            id="index-form",
        ),
        ProgressView(progress),
        FolderList(folders),
        header=H3("Library", cls="text-base font-medium"),
        cls="w-full",
    )


def Counts(counts: dict) -> FT:
    parts = [Span(f"{counts['indexed']:,} images indexed", id="count-indexed")]
    if counts["failed"]:
        parts.append(Span(f" · {counts['failed']:,} skipped"))
    lagging = {k: v for k, v in counts.get("spaces", {}).items() if k != "content" and v["images"] < v["of"]}
    for name, sp in lagging.items():  # e.g. a run stopped in its style pass: say what style search covers
        parts.append(Span(f" · {name} {100 * sp['images'] // max(sp['of'], 1)}%", cls="space-coverage"))
    # refreshes itself when an indexing run ends
    return P(
        *parts,
        cls="text-sm text-muted-foreground",
        id="counts",
        hx_get="/counts",
        hx_trigger="folders-changed from:body",
        hx_swap="outerHTML",
    )


def StatusLine(counts: dict, model_note: tuple[str, str] | None) -> FT:
    return Div(
        Counts(counts),
        Notice(model_note[1], model_note[0], id="model-note", cls="mt-2") if model_note else "",
    )


def Page(*content: Any) -> FT:
    return (
        Title("StyleSeek"),
        Div(Div(id="error-slot"), *content, cls="max-w-screen-2xl mx-auto px-4 py-6"),
        Div(id="modal-slot"),
    )


def SuggestProgress() -> FT:
    """Shown while a suggestion is being made (htmx-indicator): the local model can take several seconds."""
    return Div(
        Loading(cls=(LoadingT.dots, LoadingT.sm)),
        Span("Making suggestions… a local model can take several seconds"),
        Span("", id="suggest-elapsed", cls="tabular-nums"),
        # the seconds since the request began, so a long wait visibly moves
        Script(
            "document.addEventListener('htmx:beforeRequest', e => {"
            " if (!e.detail.elt.matches('#suggest-button, #more-like')) return;"
            " const t0 = Date.now(), box = document.getElementById('suggest-progress');"
            " const out = document.getElementById('suggest-elapsed'); out.textContent = '';"
            " const timer = setInterval(() => { if (!box.classList.contains('htmx-request')) clearInterval(timer);"
            " else out.textContent = Math.round((Date.now() - t0) / 1000) + ' s'; }, 1000); });"
        ),
        id="suggest-progress",
        cls="htmx-indicator flex items-center gap-2 text-sm text-muted-foreground mt-2",
        role="status",
    )


# the panel goes back to the empty placeholder the Suggest button fills (no empty frame left behind)
CLOSE_PANEL = "document.getElementById('suggestions').outerHTML = '<div id=\"suggestions\"></div>';"

MOVE_ROWS = (
    "const form = document.getElementById('search-form');"
    "document.getElementById('term-builder').open = true;"
    "const terms = document.getElementById('terms');"
    "rows.forEach(r => { r.querySelector('.accept-term')?.remove(); terms.appendChild(r); });"
    "document.getElementById('q').value = '';"  # the terms replace the description they came from
    "form.requestSubmit();"
)


def SuggestionRow(t: Term, style_ok: bool = True) -> FT:
    """An editable suggested term (text, target, weight, remove) with a button that moves it into the builder."""
    row = TermRow(t, style_ok)
    row.children = (
        *row.children,
        IconButton(
            "check",
            "Use this term",
            "accept-term",
            title="Use this term",
            onclick="const rows = [this.closest('.term-row')];" + MOVE_ROWS,
        ),
    )
    return row


def SuggestionPanel(sug: Any, description: str = "", style_ok: bool = True) -> FT:
    """The suggestion panel (empty until the Suggest button fills it): which engine made the terms, notes on
    what was changed, editable rows, 'Use all' and 'More like these results'."""
    if sug is None:
        return Div(id="suggestions")
    engine = "the rule-based suggester" if sug.engine == "rules" else sug.engine.removeprefix("llm: ")
    rows = [SuggestionRow(t, style_ok) for t in sug.terms]
    return Div(
        DivFullySpaced(
            Span(
                UkIcon("sparkles", height=14),
                Span("Suggested by "),
                Span(engine, cls="font-medium", id="suggest-engine", data_engine=sug.engine),
                cls="inline-flex items-center gap-1 text-sm",
            ),
            IconButton("x", "Close suggestions", onclick=CLOSE_PANEL),
        ),
        *[P(n, cls="text-xs text-muted-foreground suggest-note") for n in sug.notes],
        Div(*rows, id="suggestion-rows", cls="space-y-2 my-2")
        if rows
        else P("No terms to suggest for that description.", cls="text-sm"),
        PlainInput(type="hidden", name="description", value=description, id="suggest-description"),
        Div(
            Button(
                UkIcon("check-check", height=14),
                Span("Use all"),
                type="button",
                id="use-all",
                cls=(ButtonT.primary, ButtonT.sm, "gap-1"),
                onclick="const rows = [...document.querySelectorAll('#suggestion-rows .term-row')];"
                + MOVE_ROWS
                + CLOSE_PANEL,
            )
            if rows
            else "",
            Button(
                UkIcon("images", height=14),
                Span("More like these results"),
                type="button",
                id="more-like",
                cls=(ButtonT.default, ButtonT.sm, "gap-1"),
                title="Suggest again, also looking at what the current top results look like",
                **suggest_request("/suggest?more=1", "#search-form, #suggest-description"),
            ),
            cls="flex flex-wrap gap-2",
        ),
        id="suggestions",
        cls="mt-3 p-3 rounded-lg border border-slate-200 bg-slate-50",
    )


def MainPage(
    st: SearchState,
    results: FT,
    counts: dict,
    folders: list[dict],
    progress: ProgressSnapshot | None,
    model_note: tuple[str, str] | None,
) -> tuple:
    return Page(
        DivFullySpaced(
            Div(H2("StyleSeek", cls="text-2xl font-semibold"), StatusLine(counts, model_note)),
            cls="mb-4 items-start",
        ),
        Div(
            Div(SearchForm(st), SuggestProgress(), SuggestionPanel(None), results, cls="flex-1 min-w-0"),
            Div(IndexPanel(folders, progress), cls="lg:w-80 shrink-0"),
            cls="flex flex-col-reverse lg:flex-row gap-6",
        ),
    )
