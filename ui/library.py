"""The Library panel: index a folder, its live progress, the folders and the counts."""

from __future__ import annotations

import json
from pathlib import PurePath

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403

from indexing.progress import ProgressSnapshot, duration_text
from ui.widgets import IconButton


def progress_stats(s: ProgressSnapshot) -> str:
    """The run's numbers in one line; in the style pass, what content search covers and what is left."""
    pct = round(100 * s.fraction)
    stats = f"{s.done:,} / {s.total:,} files · {s.indexed:,} new · {s.unchanged:,} unchanged"
    if s.phase == "style" and s.running:  # content search works already; the style spaces are being added
        eta = s.eta_seconds
        stats = (
            f"Content search ready for {s.content_ready:,} images · style {pct}% "
            f"({s.fill_done:,} / {s.fill_total:,}{f', about {duration_text(eta)} left' if eta is not None else ''})"
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
    return stats


def ProgressView(s: ProgressSnapshot | None) -> FT:
    if s is None:
        return Div(id="index-progress")
    pct = round(100 * s.fraction)
    stats = progress_stats(s)
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
        header=DivFullySpaced(
            H3("Library", cls="text-base font-medium"),
            IconButton("x", "Close the library", onclick="styleseek.toggleLibrary()", id="library-close"),
        ),
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
