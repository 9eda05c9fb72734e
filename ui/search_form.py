"""The search form: the query line, the term builder (rows of text, model and weight) and the options."""

from __future__ import annotations

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from fasthtml.components import Button as PlainButton
from fasthtml.components import Input as PlainInput
from fasthtml.components import Label as PlainLabel
from fasthtml.components import Select as PlainSelect
from monsterui.all import *  # noqa: F403

from search.query import Term
from ui.form import SearchState
from ui.widgets import Checkbox, Field, IconButton, Slider

SHOW_WEIGHT = "styleseek.showWeight(this)"  # the value beside a weight slider follows it (ui/static/styleseek.js)


def TermRow(term: Term | None = None, style_ok: bool = True) -> FT:
    """A builder row: text, model (or a picture: '#id', its thumbnail beside), weight slider, remove."""
    t = term or Term("", "content", 1.0)
    thumb = (
        Img(src=f"/thumb/{t.text[1:]}", alt=t.text, cls="row-thumb")
        if t.target == "image" and t.text.startswith("#")
        else ""
    )
    return Div(
        thumb,
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
            Option("picture", value="image", selected=t.target == "image"),
            name="target",
            cls="uk-select w-28",
            aria_label="Model",
        ),
        Slider("weight", t.weight, -1, 1, "weight-slider w-28", aria_label="Weight", oninput=SHOW_WEIGHT),
        Span(f"{t.weight:.2f}", cls="w-12 text-right text-sm tabular-nums weight-value"),
        IconButton("x", "Remove term", "remove-term", onclick="styleseek.removeTerm(this)"),
        PlaceLabel("", pending=t.target == "location"),
        cls=f"term-row flex flex-wrap items-center gap-2{' negative' if t.weight < 0 else ''}",
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


def SearchBar(st: SearchState) -> FT:
    return Div(
        Input(
            name="q",
            value=st.q,
            aria_label="Search",
            autofocus=True,
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
        PictureButton(),
        Loading(cls=(LoadingT.spinner, LoadingT.sm), htmx_indicator=True, id="search-spinner"),
        Span("", id="picture-status", cls="text-sm w-full", role="status", aria_live="polite"),
        cls="search-bar",
    )


def PictureButton() -> FT:
    """Search by a picture of one's own: picked here, or dropped or pasted anywhere on the page (styleseek.js);
    it is embedded now and its vectors kept (never the picture)."""
    return PlainLabel(
        UkIcon("image-plus", height=16),
        Span("Picture"),
        PlainInput(
            type="file",
            accept="image/*,.heic,.heif,.avif,.dng,.cr2,.cr3,.nef,.arw,.raf,.orf,.rw2",
            id="picture-input",
            cls="sr-only",
            onchange="event.stopPropagation(); styleseek.searchByPicture(this.files[0]); this.value = ''",
        ),
        cls="uk-btn uk-btn-default gap-2 cursor-pointer",
        id="picture-button",
        title="Search by a picture: pick one, or drop or paste it anywhere on the page",
        aria_label="Search by a picture",
    )


def BalanceSlider(st: SearchState) -> FT:
    slider = Slider("balance", st.balance, 0, 1, "w-40", id="balance", aria_label="Content and style balance")
    return PlainLabel(Span("Content"), slider, Span("Style"), cls="flex items-center gap-2 text-sm")


def Options(st: SearchState) -> FT:
    """Balance, order, coherence, minimum match, places, date, camera, grouping and the map."""
    sort = PlainSelect(
        Option("best match first", value="score", selected=st.sort == "score"),
        Option("newest first", value="date", selected=st.sort == "date"),
        name="sort",
        cls="uk-select w-40",
        aria_label="Order",
    )
    min_match = "" if st.min_match is None else f"{st.min_match:g}"
    return Div(
        BalanceSlider(st),
        sort,
        Checkbox(
            "coherence",
            "1",
            st.coherence,
            "Style coherence",
            title="Raise results whose style matches the style of the top results",
        ),  # fmt: skip
        Field(
            "Min. match %",
            Input(
                type="number",
                name="min_match",
                step="5",
                min="0",
                max="100",
                value=min_match,
                placeholder="0",
                cls="uk-input w-24",
                aria_label="Minimum match, percent of the best result",
                title="Keep results at least this good, in percent of the best result (the cards' bars)",
            ),
        ),  # fmt: skip
        Checkbox(
            "unplaced",
            "drop",
            st.drop_unplaced,
            "Drop images without a place",
            title="Under location terms: leave out images with no GPS position",
        ),  # fmt: skip
        Field(
            "Taken",
            Input(type="date", name="taken_from", value=st.taken_from, cls="uk-input w-40", aria_label="Taken from"),
            Span("to"),
            Input(type="date", name="taken_to", value=st.taken_to, cls="uk-input w-40", aria_label="Taken to"),
        ),
        Field(
            "Camera",
            Input(name="camera", value=st.camera, cls="uk-input w-36", placeholder="e.g. EOS", aria_label="Camera"),
        ),  # fmt: skip
        Checkbox("gps", "1", st.with_gps, "Only with GPS", input_id="with-gps"),
        Checkbox("group", "place", st.group_by_place, "Group by place", input_id="group-by-place"),
        Checkbox("map", "1", st.show_map, "Map", input_id="show-map"),
        cls="flex flex-wrap items-center gap-4 pt-2",
    )


def TermBuilder(st: SearchState, style_ok: bool, style_note: str) -> FT:
    add = PlainButton(
        UkIcon("plus", height=14),
        Span("Add term"),
        type="button",
        id="add-term",
        cls="inline-flex items-center gap-1 text-sm px-2 py-1 rounded hover:bg-muted",
        hx_get="/term_row",
        hx_target="#terms",
        hx_swap="beforeend",
    )
    return Details(
        Summary("Terms, weights and options", cls="cursor-pointer text-sm text-muted-foreground"),
        Div(
            Div(*[TermRow(t, style_ok) for t in st.rows], id="terms", cls="space-y-2"),
            add,
            P(style_note, cls="text-xs text-amber-700", id="style-note") if style_note else "",
            Options(st),
            cls="space-y-2 pt-3",
        ),
        open=st.customised,
        cls="mt-2",
        id="term-builder",
    )


def SearchForm(st: SearchState, style_ok: bool = True, style_note: str = "") -> FT:
    return Form(
        SearchBar(st),
        TermBuilder(st, style_ok, style_note),
        hx_get="/search",
        hx_target="#results",
        hx_swap="outerHTML",
        hx_push_url="true",
        hx_trigger="submit, change delay:250ms",
        hx_indicator="#search-spinner",
        id="search-form",
    )
