"""The whole page: title, counts and model notice, the search column and the Library panel."""

from __future__ import annotations

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403

from indexing.progress import ProgressSnapshot
from ui.form import SearchState
from ui.library import Counts, IndexPanel
from ui.search_form import SearchForm
from ui.suggestions import SuggestionPanel, SuggestProgress
from ui.widgets import Notice, Page


def Header(counts: dict, model_note: tuple[str, str] | None) -> FT:
    """The title and counts, the Library button (a drawer below 1024 px), and the model notice beneath."""
    library = Button(
        UkIcon("library", height=16),
        Span("Library"),
        type="button",
        cls=(ButtonT.default, "library-toggle gap-2"),
        onclick="styleseek.toggleLibrary()",
        aria_controls="library",
    )
    return Div(
        DivFullySpaced(Div(H2("StyleSeek", cls="text-2xl font-semibold"), Counts(counts)), library),
        Notice(model_note[1], model_note[0], id="model-note", cls="mt-2") if model_note else "",
        cls="mb-4",
    )


def SelectionBar() -> FT:
    """Shown while results are selected: they become example pictures, for or against, in the query line."""
    return Div(
        Span("", id="selection-count", cls="text-sm"),
        Button("More like these", cls=ButtonT.primary, type="button", onclick="styleseek.likeSelected(1)",
               id="like-selected"),
        Button("Less like these", cls=ButtonT.default, type="button", onclick="styleseek.likeSelected(-1)",
               id="unlike-selected"),
        Button("Clear", cls=ButtonT.ghost, type="button", onclick="styleseek.clearPicks()"),
        id="selection-bar",
        hidden=True,
        role="toolbar",
        aria_label="Selected pictures",
    )  # fmt: skip


def DropOverlay() -> FT:
    return Div(P("Drop a picture to search by it", cls="text-xl font-medium"), id="drop-overlay", hidden=True)


def MainPage(
    st: SearchState,
    results: FT,
    counts: dict,
    folders: list[dict],
    progress: ProgressSnapshot | None,
    model_note: tuple[str, str] | None,
    style_ok: bool = True,
    style_note: str = "",
    modal: FT | None = None,
) -> tuple:
    return Page(
        Header(counts, model_note),
        Div(
            Div(
                SearchForm(st, style_ok, style_note),
                Div(id="error-slot", role="alert"),  # a search's error, right under the controls that caused it
                SuggestProgress(),
                SuggestionPanel(None),
                results,
                cls="flex-1 min-w-0",
            ),
            Div(IndexPanel(folders, progress), cls="lg:w-80 shrink-0", id="library"),
            cls="flex flex-col lg:flex-row gap-6",
        ),
        SelectionBar(),
        DropOverlay(),
        modal=modal,
    )
