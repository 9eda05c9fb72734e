"""The search options and the one check of each: the web form, the CLI, the services and the engine all call
these, so a bad value gets the same message wherever it comes from."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from search.errors import QueryError

MAX_K = 1000
SORTS = ("score", "date")
MAX_RADIUS_KM = 20_000.0
# the content/style slider's default, and so a picture term's split: half content, half the style side (style
# and texture sharing it)
PICTURE_BALANCE = 0.5


def _between(name: str, x: float, lo: float, hi: float) -> float:
    if not lo <= x <= hi:  # NaN fails this too
        raise QueryError(f"{name} must be between {lo:g} and {hi:g}, got {x:g}")
    return x


def check_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be between 1 and {MAX_K}, got {k}")
    return k


def shown(k: int, pages: int) -> int:
    """How many results pages of k show: up to MAX_K."""
    return min(k * pages, MAX_K)


def more_pages(found: int, k: int, pages: int) -> bool:
    """Whether a list may go on: it came back full, short of MAX_K."""
    return found == shown(k, pages) < MAX_K


def check_pages(pages: int, k: int) -> int:
    """Pages of k results shown at once (the results' next page, as they scroll), at most MAX_K results."""
    most = -(-MAX_K // k)
    if not 1 <= pages <= most:
        raise QueryError(f"pages must be between 1 and {most} for {k} results a page, got {pages}")
    return pages


def check_sort(sort: str) -> str:
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    return sort


def check_balance(balance: float) -> float:
    """0 = content only, 1 = style only, 0.5 leaves the weights as typed."""
    return _between("balance", balance, 0.0, 1.0)


def check_coherence(coherence: float) -> float:
    return _between("coherence", coherence, 0.0, 1.0)


def check_min_score(min_score: float | None) -> float | None:
    return None if min_score is None else _between("min_score", min_score, -1.0, 1.0)


def check_min_match(min_match: float | None) -> float | None:
    """A share of the best hit's score, in percent: 80 keeps the hits at least 80% as good as the best."""
    return None if min_match is None else _between("min_match", min_match, 0.0, 100.0)


def check_radius(km: float | None) -> float | None:
    if km is None:
        return None
    if math.isnan(km) or not 0 < km <= MAX_RADIUS_KM:
        raise QueryError(f"the radius must be between 0 and {MAX_RADIUS_KM:g} km, got {km:g}")
    return km


@dataclass(frozen=True)
class Filters:
    """Hard conditions beside the scores. Location terms themselves can be hard too ("only in: France")."""

    unplaced: str = "keep"  # keep or drop images without a place when the query has location terms
    taken_from: str | None = None  # YYYY-MM-DD, inclusive; undated images are dropped by a date filter
    taken_to: str | None = None
    camera: str | None = None  # case-insensitive part of "make model"
    with_gps: bool = False  # only pictures with a GPS position

    def __post_init__(self) -> None:
        if self.unplaced not in ("keep", "drop"):
            raise QueryError(f"unplaced must be keep or drop, got {self.unplaced!r}")
        for name in ("taken_from", "taken_to"):
            v = getattr(self, name)
            if v is not None and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", v):
                raise QueryError(
                    f"{name.replace('_', ' ')} must be a date like 2021-07-14 (or 2021-07, 2021), got {v!r}"
                )
