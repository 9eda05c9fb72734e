"""The Library panel: index a folder, its live progress, the folders and the counts."""

from __future__ import annotations

import json
from pathlib import PurePath

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from fasthtml.components import Button as PlainButton
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
        "loading": "Loading the models…",
        "cancelling": "Cancelling…",
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
            if s.running and s.state != "cancelling"
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


FOLDER_STATES = {
    "complete": ("", "text-muted-foreground"),
    "partial": ("partly indexed", "text-amber-700"),
    "indexing": ("indexing…", "text-sky-700"),
    "new": ("not indexed yet", "text-muted-foreground"),
}


def FolderRow(f: dict) -> FT:
    """A folder: its counts and state, Update (Resume when its last run stopped partway), its skipped files,
    and Remove."""
    label, colour = FOLDER_STATES.get(f["state"], ("", ""))
    resume = f["state"] in ("partial", "new")
    return Li(
        DivFullySpaced(
            Span(  # the folder's own name first: long paths share their beginnings
                Span(PurePath(f["path"]).name or f["path"], cls="font-medium"),
                " ",
                Span(str(PurePath(f["path"]).parent), cls="text-muted-foreground"),
                cls="truncate text-sm min-w-0",
                title=f["path"],
            ),
            IconButton(
                "play" if resume else "refresh-cw",
                f"{'Resume' if resume else 'Update'} {f['path']}",
                "shrink-0 folder-update",
                title=("Resume: index what the last run did not reach" if resume else
                       "Update: index new and changed files, drop deleted ones"),
                hx_post="/index_start",
                hx_vals=json.dumps({"path": f["path"]}),
                hx_target="#index-progress",
                hx_swap="outerHTML",
            ),
            IconButton(
                "trash-2",
                f"Remove {f['path']}",
                "shrink-0 folder-remove",
                title="Remove from StyleSeek (the files stay where they are)",
                hx_post="/folder_remove",
                hx_vals=json.dumps({"id": f["id"]}),
                hx_target="#folders",
                hx_swap="outerHTML",
                hx_confirm=f"Remove {f['path']} from StyleSeek? Its {f['indexed']:,} pictures leave the search; "
                "the files themselves are not touched.",
            ),
            cls="gap-2",
        ),
        Div(
            Span(f"{f['indexed']:,} pictures", cls="tabular-nums"),
            Span(label, cls=colour) if label else "",
            FailedButton(f) if f["failed"] else "",
            cls="flex flex-wrap gap-2 text-xs text-muted-foreground",
        ),
        Div(id=f"folder-errors-{f['id']}"),
        cls="folder",
        data_state=f["state"],
        data_path=f["path"],
    )  # fmt: skip


def FailedButton(f: dict) -> FT:
    """'4 failed': lists the folder's files that could not be indexed, and why, beneath it."""
    return PlainButton(
        f"{f['failed']} failed",
        type="button",
        cls="underline text-xs text-red-700 folder-errors",
        hx_get=f"/folder_errors?id={f['id']}",
        hx_target=f"#folder-errors-{f['id']}",
        hx_swap="innerHTML",
    )


def FolderErrors(errors: list[tuple[str, str]]) -> FT:
    return Ul(
        *[Li(Span(PurePath(p).name, cls="font-medium"), f": {e}", title=p, cls="text-xs") for p, e in errors],
        cls="mt-1 space-y-1 max-h-48 overflow-y-auto",
    )


def FolderList(folders: list[dict]) -> FT:
    return Div(
        H4("Indexed folders", cls="text-sm font-medium mt-4 mb-1"),
        Ul(*[FolderRow(f) for f in folders], cls="space-y-2")
        if folders
        else P("None yet.", cls="text-sm text-muted-foreground"),
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
        Div(id="library-error", role="alert"),  # the Library's errors, beside its controls
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
