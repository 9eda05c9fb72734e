"""The search page's state, both ways: parsed from a request's query parameters (each value checked once, by
search.options, search.query or the engine's Filters; a bad one is a QueryError: a 400 that says what to fix)
and written back to query parameters (links, Back, bookmarks). Routes and components share it.

Adding a search option: a field here (with its parameter in from_params and to_params), its control in
ui/search_form.py, and its meaning in the engine (search/options.py, search/engine.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from search.dates import DateSpan, intersect, strip_date
from search.errors import QueryError
from search.options import (
    PICTURE_BALANCE,
    Filters,
    check_balance,
    check_k,
    check_min_match,
    check_pages,
    check_sort,
    shown,
)
from search.query import Term, make_term, parse_query


def parse_int(value: Any, name: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise QueryError(f"{name} must be a whole number, got {value!r}") from None


def parse_float(value: Any, name: str) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise QueryError(f"{name} must be a number, got {value!r}") from None


def _flag(value: str) -> bool:
    return value.lower() in ("1", "on", "true")


@dataclass
class SearchState:
    """What the search form shows: the one-line query, the builder's rows and the options."""

    q: str = ""
    k: int = 24
    pages: int = 1  # pages of k results shown: the next one comes as the results scroll; a new search starts at 1
    rows: list[Term] = field(default_factory=list)
    balance: float = PICTURE_BALANCE
    sort: str = "score"
    coherence: bool = False
    min_match: float | None = None  # percent of the best hit's score, the unit the cards show
    drop_unplaced: bool = False
    group_by_place: bool = False
    show_map: bool = False
    taken_from: str = ""
    taken_to: str = ""
    camera: str = ""
    with_gps: bool = False

    @classmethod
    def from_params(cls, params: Any = None) -> SearchState:
        """From a request's query parameters (anything with get() and getlist()); none: the defaults."""
        one: Callable[..., str] = params.get if params is not None else (lambda _k, d="": d)
        many: Callable[[str], list[str]] = params.getlist if params is not None else (lambda _k: [])
        text, target, weight = many("text"), many("target"), many("weight")
        if not (len(text) == len(target) == len(weight)):
            raise QueryError("each term needs a text, a target and a weight")
        rows = [
            make_term(tx, tg, parse_float(w, "weight"))
            for tx, tg, w in zip(text, target, weight, strict=True)
            if tx.strip()  # an empty row in the builder is simply not used
        ]
        min_match = one("min_match", "").strip()
        k = check_k(parse_int(one("k", "24"), "k"))
        st = cls(
            q=one("q", ""),
            k=k,
            pages=check_pages(parse_int(one("pages", "1"), "pages"), k),
            rows=rows,
            balance=check_balance(parse_float(one("balance", str(PICTURE_BALANCE)), "balance")),
            sort=check_sort(one("sort", "score")),
            coherence=_flag(one("coherence", "")),
            min_match=check_min_match(parse_float(min_match, "min_match")) if min_match else None,
            drop_unplaced=one("unplaced", "keep") == "drop",
            group_by_place=one("group", "") == "place",
            show_map=one("map", "") == "1",
            taken_from=one("taken_from", "").strip(),
            taken_to=one("taken_to", "").strip(),
            camera=one("camera", "").strip()[:100],
            with_gps=one("gps", "") == "1",
        )
        st.filters  # noqa: B018 - checks the dates now, so a bad one is a 400 even on an empty query
        return st

    def to_params(self) -> list[tuple[str, str]]:
        """The query string that reproduces this state (the inverse of from_params)."""
        p = [("q", self.q), ("k", str(self.k))] + ([("pages", str(self.pages))] if self.pages > 1 else [])
        for t in self.rows:
            p += [("text", t.text), ("target", t.target), ("weight", f"{t.weight:g}")]
        p += [("balance", f"{self.balance:g}"), ("sort", self.sort)]
        p += [("coherence", "on")] if self.coherence else []
        p += [("min_match", f"{self.min_match:g}")] if self.min_match is not None else []
        p += [("unplaced", "drop")] if self.drop_unplaced else []
        p += [("group", "place")] if self.group_by_place else []
        p += [("map", "1")] if self.show_map else []
        p += [(k, v) for k, v in (("taken_from", self.taken_from), ("taken_to", self.taken_to)) if v]
        p += [("camera", self.camera)] if self.camera else []
        p += [("gps", "1")] if self.with_gps else []
        return p

    @property
    def shown(self) -> int:
        """How many results: the pages of k, up to MAX_K."""
        return shown(self.k, self.pages)

    @property
    def filters(self) -> Filters:
        taken = self.taken or ("", "")
        return Filters(
            unplaced="drop" if self.drop_unplaced else "keep",
            taken_from=taken[0] or None,
            taken_to=taken[1] or None,
            camera=self.camera or None,
            with_gps=self.with_gps,
        )

    def query_terms(self) -> list[Term]:
        """The one-line query's terms, without its date phrase (the builder's rows follow them)."""
        rest, _ = strip_date(self.q)
        return parse_query(rest) if rest.strip() else []

    @property
    def typed_date(self) -> DateSpan | None:
        """The date phrase of the query line ('beach july 2023'), if any."""
        return strip_date(self.q)[1]

    @property
    def taken(self) -> tuple[str, str] | None:
        """The span the pictures must have been taken in: the Taken fields and the typed date, both."""
        span = self.typed_date
        if span is None:
            return (self.taken_from, self.taken_to) if self.taken_from or self.taken_to else None
        return intersect((self.taken_from or None, self.taken_to or None), (span.taken_from, span.taken_to))

    @property
    def customised(self) -> bool:
        """Any term or option beyond the query line: the options panel then opens."""
        default, plain = SearchState(), ("q", "k", "pages")
        return any(getattr(self, f.name) != getattr(default, f.name) for f in fields(self) if f.name not in plain)
