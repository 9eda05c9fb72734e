"""Page parts. Each takes plain data (records, snapshots) and returns FT; routes in app.py stay thin."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import PurePath
from typing import Any

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui (the other order loses styles)
from fasthtml.components import Button as PlainButton  # MonsterUI's Button is a styled uk-btn
from fasthtml.components import Select as PlainSelect  # MonsterUI's Select is a custom element; a native one here
from monsterui.all import *  # noqa: F403

from indexing.progress import ProgressSnapshot

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


def fmt_date(iso: str | None) -> str:
    if not iso:
        return "—"
    try:
        return datetime.fromisoformat(iso).strftime("%d %b %Y, %H:%M")
    except ValueError:
        return iso


def Notice(text: str, kind: str = "error", cls: str = "", **kw: Any) -> FT:
    kind_cls = {
        "error": (AlertT.error, "bg-red-50 border-red-300 text-red-900"),
        "warning": (AlertT.warning, "bg-amber-50 border-amber-300 text-amber-900"),
        "info": (AlertT.info, "bg-sky-50 border-sky-300 text-sky-900"),
    }[kind]
    return Alert(P(text, cls="whitespace-pre-line text-sm"), cls=(*kind_cls, "rounded-lg", cls), data_kind=kind, **kw)


def ErrorFragment(message: str) -> FT:
    return Div(Notice(message), id="error", cls="my-4")


def SearchForm(q: str = "", k: int = 24) -> FT:
    return Form(
        DivLAligned(
            Input(
                name="q",
                value=q,
                placeholder="Describe what you are looking for: dog on a beach, red car at night…",
                aria_label="Search",
                autofocus=True,
                cls="flex-1",
                id="q",
            ),
            PlainSelect(
                *[Option(str(n), value=str(n), selected=(n == k)) for n in (12, 24, 48, 96)],
                name="k",
                aria_label="Number of results",
                cls="uk-select w-20",
            ),
            Button(
                UkIcon("search", height=16),
                Span("Search"),
                cls=(ButtonT.primary, "gap-2"),
                type="submit",
            ),
            Loading(cls=(LoadingT.spinner, LoadingT.sm), htmx_indicator=True, id="search-spinner"),
            cls="gap-2",
        ),
        hx_get="/search",
        hx_target="#results",
        hx_swap="outerHTML",
        hx_push_url="true",
        hx_indicator="#search-spinner",
        id="search-form",
    )


def ResultCard(rec: dict) -> FT:
    name = PurePath(rec["path"]).name
    score = rec.get("score")
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
        type="button",
        cls="result-card block w-full text-left p-1 rounded-lg hover:bg-muted focus:outline-none "
        "focus:ring-2 focus:ring-primary",
        hx_get=f"/preview?id={rec['id']}",
        hx_target="#modal-slot",
        hx_swap="innerHTML",
        data_id=str(rec["id"]),
        aria_label=f"Open {name}",
    )


def Results(hits: list[dict], title: str = "", empty: str = "") -> FT:
    body: Any
    if hits:
        body = Div(
            *[ResultCard(h) for h in hits],
            cls="grid grid-cols-2 sm:grid-cols-3 md:grid-cols-4 lg:grid-cols-5 xl:grid-cols-6 gap-3",
        )
    else:
        body = P(
            empty or "Index a folder, then search it by describing what is in the pictures.",
            cls="text-muted-foreground py-8 text-center",
        )
    return Div(H3(title, cls="text-base font-medium mb-3") if title else "", body, id="results", cls="mt-4")


def DetailRow(label: str, value: Any) -> FT:
    return Tr(Td(label, cls="text-muted-foreground pr-4 align-top whitespace-nowrap"), Td(value, cls="break-all"))


def PreviewModal(rec: dict) -> FT:
    gps = rec.get("gps")
    gps_text = (
        (f"{gps['lat']:.5f}, {gps['lon']:.5f}" + (f" · {gps['alt']:.0f} m" if gps.get("alt") is not None else ""))
        if gps
        else "—"
    )
    details = Table(
        Tbody(
            DetailRow("File", rec["path"]),
            DetailRow("Size", f"{rec['width']} × {rec['height']} px · {rec['format']}"),
            DetailRow("Taken", fmt_date(rec.get("taken_at"))),
            DetailRow("Camera", rec.get("camera") or "—"),
            DetailRow("GPS", gps_text),
            DetailRow("Orientation", str(rec.get("orientation") or 1)),
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
            Div(details, cls="lg:w-80 shrink-0"),
            cls="flex flex-col lg:flex-row gap-6",
        ),
        header=DivFullySpaced(
            ModalTitle(PurePath(rec["path"]).name, cls="text-lg truncate"),
            ModalCloseButton(cls="p-1", type="button", aria_label="Close"),
        ),
        footer=DivRAligned(
            Button("Close", cls=(ButtonT.ghost, "uk-modal-close"), type="button"),
            Button(
                UkIcon("images", height=16),
                Span("Find similar"),
                cls=(ButtonT.primary, "uk-modal-close gap-2"),
                type="button",
                hx_get=f"/similar?id={rec['id']}",
                hx_target="#results",
                hx_swap="outerHTML",
                hx_push_url="true",
                id="find-similar",
            ),
            cls="gap-2",
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
    if s.moved:
        stats += f" · {s.moved:,} moved"
    if s.removed:
        stats += f" · {s.removed:,} removed"
    stats += f" · {s.failed:,} failed"
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
                PlainButton(
                    UkIcon("refresh-cw", height=14),
                    type="button",
                    cls="shrink-0 p-1 rounded hover:bg-muted",
                    title=f"Update {f['path']}: index new and changed files, drop deleted ones",
                    aria_label=f"Update {f['path']}",
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


def MainPage(
    q: str,
    k: int,
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
            Div(SearchForm(q, k), results, cls="flex-1 min-w-0"),
            Div(IndexPanel(folders, progress), cls="lg:w-80 shrink-0"),
            cls="flex flex-col-reverse lg:flex-row gap-6",
        ),
    )
