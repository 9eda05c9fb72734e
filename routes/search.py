"""The search page: the full page, the results of a search (an htmx partial), a builder row and its place."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.requests import Request

from geo.geocoder import GEOCODER, UnknownPlace, understood
from models import ModelError
from routes.common import UserError, clear_error, is_htmx, services, viewer
from search.dates import strip_date
from search.errors import QueryError
from search.grouping import group_by_place
from search.options import more_pages
from search.query import Term, apply_balance, format_query, is_hard, make_term, with_place
from services import StyleSeek
from ui.form import SearchState, parse_float
from ui.page import MainPage
from ui.results import DateChip, PictureNote, PlaceNote, Results
from ui.search_form import PlaceLabel, TermRow
from ui.timeline import Timeline, TimelinePage
from ui.widgets import ErrorFragment
from ui.worldmap import ResultsMap, parse_box

router = APIRouter()


def full_page(svc: StyleSeek, st: SearchState, results: FT, req: Request | None = None) -> tuple:
    """The whole page; a link that names a picture (`view=ID`, as the viewer writes it) opens it at once."""
    ok, note = svc.style_available()
    view = req.query_params.get("view", "") if req is not None else ""
    modal = None
    if view:
        try:
            modal = viewer(svc, view, format_query(st.query_terms() + st.rows) if st.q or st.rows else "")
        except UserError:
            pass  # a link to a picture no longer in the library: the page, without it
    return MainPage(st, results, svc.counts(), svc.folders(), svc.progress(), svc.model_notice(), ok, note, modal)


def search_hits(svc: StyleSeek, st: SearchState, terms: list[Term]) -> list:
    """The hits of the terms (the one-line query's, then the builder's) under the state's options."""
    if not terms:
        return []
    return svc.search(
        apply_balance(terms, st.balance),
        st.shown,
        min_match=st.min_match,
        sort=st.sort,
        coherence=0.5 if st.coherence else 0.0,
        filters=st.filters,
        picture_balance=st.balance,  # the slider shares a picture term between content and style too
    )


def date_chip(st: SearchState) -> FT | str:
    """The typed date as a removable chip (its × links to the same search without the date phrase)."""
    span = st.typed_date
    if span is None:
        return ""
    return DateChip(span.label, "/?" + urlencode(replace(st, q=strip_date(st.q)[0]).to_params()))


def run_search(svc: StyleSeek, st: SearchState) -> FT:
    q_terms = st.query_terms()
    terms = q_terms + st.rows
    if not terms:  # home: the library as a timeline (of the span the query line or the Taken fields name)
        records, after = svc.timeline(taken=st.taken)
        return Timeline(records, after, svc.counts()["indexed"], st.taken, date_chip(st))
    hits = search_hits(svc, st, terms)
    label = format_query(terms)
    records = svc.records(hits)
    pictures = [(t.text, t.weight) for t in terms if t.target == "image"]
    return Results(
        records,
        f"{len(hits)} results for “{label}”",
        empty=why_empty(svc, st, terms, label) if not hits and svc.counts()["indexed"] else "",
        query=format_query(apply_balance(terms, st.balance)),
        balance=st.balance,
        notes=[date_chip(st)]
        + [place_note(st, q_terms, i, t) for i, t in enumerate(terms) if t.target == "location"]
        + (
            [PictureNote([(t.text, t.weight) for t in pictures])]
            if (pictures := [t for t in terms if t.target == "image"])
            else []
        ),
        groups=group_by_place(records) if st.group_by_place else None,
        show_map=st.show_map,
        map_url="/map?" + urlencode(st.to_params()),
        # a full list may go on: the next page draws the list again with k more (sorted by date, the new ones
        # fall in among those shown)
        more_url="/search?" + urlencode(replace(st, pages=st.pages + 1).to_params())
        if more_pages(len(hits), st.k, st.pages)
        else "",
    )


def relaxations(st: SearchState) -> list[tuple[str, SearchState]]:
    """What could have removed every result, each with the same search without it (most specific first)."""
    out = []
    if st.typed_date is not None:
        out.append((f"the date “{st.typed_date.text}” ({st.typed_date.label})", replace(st, q=strip_date(st.q)[0])))
    if st.taken_from or st.taken_to:
        span = " to ".join(x for x in (st.taken_from or "…", st.taken_to or "…"))
        out.append((f"the date filter ({span})", replace(st, taken_from="", taken_to="")))
    if st.camera:
        out.append((f"the camera filter “{st.camera}”", replace(st, camera="")))
    if st.with_gps:
        out.append(("“only pictures with GPS”", replace(st, with_gps=False)))
    if st.drop_unplaced:
        out.append(("“drop pictures without a place”", replace(st, drop_unplaced=False)))
    if len(out) > 1:
        out.append(
            (
                "the filters together",
                replace(st, taken_from="", taken_to="", camera="", with_gps=False, drop_unplaced=False),
            )
        )
    if any(is_hard(t) for t in st.query_terms() + st.rows):

        def soften(ts: list[Term]) -> list[Term]:
            return [Term(t.text.replace("only ", "", 1), t.target, t.weight) if is_hard(t) else t for t in ts]

        q = soften(st.query_terms())
        out.append(("“only” on the place", replace(st, q=format_query(q) if q else "", rows=soften(st.rows))))
    return out


def why_empty(svc: StyleSeek, st: SearchState, terms: list[Term], label: str) -> FT:
    """No results: say what removed them, with a one-click way back to the search without it."""
    for what, relaxed in relaxations(st):
        n = len(search_hits(svc, relaxed, relaxed.query_terms() + relaxed.rows))
        if n:
            href = "/?" + urlencode(relaxed.to_params())
            return Div(
                P(f"No results: {what} removed all {n} that match “{label}”."),
                A(f"Show the {n} without it", href=href, cls="uk-btn uk-btn-default mt-2 relax"),
                cls="why-empty",
            )
    if any(t.target == "location" for t in terms):
        return P(f"No indexed picture was taken where “{label}” asks: try a wider radius or another place.")
    return P(f"Nothing indexed matches “{label}” yet.")


def place_note(st: SearchState, q_terms: list[Term], i: int, t: Term) -> FT:
    """How the i-th term's place was understood; each other place of that name links to the same search
    with the term pointed at it (in the one-line query or in the builder row it came from)."""
    area = GEOCODER.resolve_term(t.text)
    links = []
    for alt in area.alternatives:
        picked = with_place(t, alt)
        if i < len(q_terms):
            new = replace(st, q=format_query([picked if j == i else x for j, x in enumerate(q_terms)]))
        else:
            rows = list(st.rows)
            rows[i - len(q_terms)] = picked
            new = replace(st, rows=rows)
        links.append((alt, "/?" + urlencode(new.to_params())))
    return PlaceNote(t.text, area.label, links)


@router.get("/")
def index(req: Request) -> tuple:
    svc, st = services(req), SearchState.from_params(req.query_params)
    try:
        results = run_search(svc, st)
    except ModelError as e:  # the page still renders; the notice at the top says how to fix it
        results = Div(ErrorFragment(str(e)), id="results")
    return full_page(svc, st, results, req)


@router.get("/search")
def search(req: Request):  # noqa: ANN201
    svc, st = services(req), SearchState.from_params(req.query_params)
    results = run_search(svc, st)
    return (results, clear_error()) if is_htmx(req) else full_page(svc, st, results, req)


@router.get("/timeline")
def timeline(req: Request, after: str = "", day: str = "", taken_from: str = "", taken_to: str = ""):  # noqa: ANN201
    """The next page of the home timeline (asked for by the last page's sentinel as it scrolls into view)."""
    taken = (taken_from[:10], taken_to[:10]) if taken_from or taken_to else None
    records, nxt = services(req).timeline(after[:64], taken=taken)
    return TimelinePage(records, nxt, last_day=day[:10], taken=taken)


@router.get("/map")
def results_map(req: Request, bbox: str = ""):  # noqa: ANN201
    """The map of a search's results, at another zoom (a cluster clicked, Zoom out, Fit all)."""
    svc, st = services(req), SearchState.from_params(req.query_params)
    try:
        box = parse_box(bbox[:200])
    except ValueError as e:
        raise QueryError(str(e)) from None
    terms = st.query_terms() + st.rows
    records = svc.records(search_hits(svc, st, terms))
    return ResultsMap(
        records,
        format_query(apply_balance(terms, st.balance)) if terms else "",
        box,
        "/map?" + urlencode(st.to_params()),
    )


@router.get("/place_label")
def place_label(text: str = "", target: str = ""):  # noqa: ANN201
    """The builder row's place, as understood; a hint, so an unknown place is said, not a 4xx."""
    if target != "location" or not text.strip():
        return PlaceLabel("")
    try:
        area = GEOCODER.resolve_term(text[:300])
    except UnknownPlace as e:
        return PlaceLabel(str(e), error=True)
    return PlaceLabel(f"→ {understood(area)}")


@router.get("/term_row")
def term_row(req: Request, text: str = "", target: str = "content", weight: str = "1"):  # noqa: ANN201
    """A new builder row: empty (Add term), or a given term (a selected picture: text=#12, target=image)."""
    term = make_term(text, target, parse_float(weight, "weight")) if text.strip() else None
    return TermRow(term, services(req).style_available()[0])
