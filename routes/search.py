"""The search page: the full page, the results of a search (an htmx partial), a builder row and its place."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.requests import Request

from geo.geocoder import GEOCODER, UnknownPlace, understood
from models import ModelError
from routes.common import clear_error, is_htmx, services
from search.grouping import group_by_place
from search.query import Term, apply_balance, format_query, with_place
from services import StyleSeek
from ui.form import SearchState
from ui.page import MainPage
from ui.results import PlaceNote, Results
from ui.search_form import PlaceLabel, TermRow
from ui.timeline import Timeline, TimelinePage
from ui.widgets import ErrorFragment

router = APIRouter()


def full_page(svc: StyleSeek, st: SearchState, results: FT) -> tuple:
    ok, note = svc.style_available()
    return MainPage(st, results, svc.counts(), svc.folders(), svc.progress(), svc.model_notice(), ok, note)


def search_hits(svc: StyleSeek, st: SearchState, terms: list[Term]) -> list:
    """The hits of the terms (the one-line query's, then the builder's) under the state's options."""
    if not terms:
        return []
    return svc.search(
        apply_balance(terms, st.balance),
        st.k,
        min_score=st.min_score,
        sort=st.sort,
        coherence=0.5 if st.coherence else 0.0,
        filters=st.filters,
    )


def run_search(svc: StyleSeek, st: SearchState) -> FT:
    q_terms = st.query_terms()
    terms = q_terms + st.rows
    if not terms:  # home: the library as a timeline
        records, after = svc.timeline()
        return Timeline(records, after, svc.counts()["indexed"])
    hits = search_hits(svc, st, terms)
    label = format_query(terms)
    records = svc.records(hits)
    return Results(
        records,
        f"{len(hits)} results for “{label}”",
        empty=f"Nothing indexed matches “{label}” yet." if svc.counts()["indexed"] else "",
        query=format_query(apply_balance(terms, st.balance)),
        notes=[place_note(st, q_terms, i, t) for i, t in enumerate(terms) if t.target == "location"],
        groups=group_by_place(records) if st.group_by_place else None,
        show_map=st.show_map,
    )


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
    return full_page(svc, st, results)


@router.get("/search")
def search(req: Request):  # noqa: ANN201
    svc, st = services(req), SearchState.from_params(req.query_params)
    results = run_search(svc, st)
    return (results, clear_error()) if is_htmx(req) else full_page(svc, st, results)


@router.get("/timeline")
def timeline(req: Request, after: str = "", day: str = ""):  # noqa: ANN201
    """The next page of the home timeline (asked for by the last page's sentinel as it scrolls into view)."""
    records, nxt = services(req).timeline(after[:64])
    return TimelinePage(records, nxt, last_day=day[:10])


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
def term_row(req: Request):  # noqa: ANN201
    return TermRow(None, services(req).style_available()[0])
