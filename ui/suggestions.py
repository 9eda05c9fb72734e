"""Query suggestions: the panel of suggested terms and the progress line while a model works."""

from __future__ import annotations

from typing import Any

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from fasthtml.components import Input as PlainInput
from monsterui.all import *  # noqa: F403

from search.query import Term
from ui.search_form import TermRow, suggest_request
from ui.widgets import IconButton


def SuggestProgress() -> FT:
    """Shown while a suggestion is being made (htmx-indicator): the local model can take several seconds."""
    return Div(
        Loading(cls=(LoadingT.dots, LoadingT.sm)),
        Span("Making suggestions… a local model can take several seconds"),
        Span("", id="suggest-elapsed", cls="tabular-nums"),
        id="suggest-progress",
        cls="htmx-indicator flex items-center gap-2 text-sm text-muted-foreground mt-2",
        role="status",
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
            onclick="styleseek.useTerm(this)",
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
            IconButton("x", "Close suggestions", onclick="styleseek.closeSuggestions()"),
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
                onclick="styleseek.useAll()",
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
        data_keep=sug.date.text if sug.date is not None else "",  # what stays in the search box: the date
    )
