"""Dates in the search box: "beach july 2023", "snow 2019", "last summer", "christmas 2021" become a date filter.

The parser is deliberately narrow, so that it never eats content words: a month name counts only beside a year
or a day ("may 2021", "14 march 2020", never "may" or "march" alone), a season only with a year or after
last/this ("fall 2019", "last fall"; "fall leaves" and "waterfall" stay content), a bare year only in a plausible
range (1900 to next year). One date phrase per query; the words before it that only introduce it ("in", "from",
"during", "taken in") go with it.

A span is (taken_from, taken_to) in the catalog's prefix form: '2023-07' to '2023-07' is all of July 2023.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from search.errors import QueryError

MONTHS = {
    name: n
    for n, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
# northern-hemisphere meteorological seasons: (first month, last month); winter runs into the next year
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)}
HOLIDAYS = ("christmas", "xmas", "christmas eve", "new year's eve", "new years eve", "new year", "easter", "halloween")

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_SEASON = "|".join(SEASONS)
_HOLIDAY = "|".join(re.escape(h) for h in sorted(HOLIDAYS, key=len, reverse=True))
_YEAR = r"(?:19\d\d|20\d\d)"
_TH = r"(?:st|nd|rd|th)?"
_LEAD = r"(?:(?:taken\s+)?(?:in|from|during|on|of)\s+(?:the\s+)?)?"
# most specific first: a full date before a month, a month before a year
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(rf"\b{_LEAD}({_YEAR})-(\d\d)(?:-(\d\d))?\b", re.I)),
    (
        "day_month_year",
        re.compile(rf"\b{_LEAD}(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\.?,?\s+({_YEAR})\b", re.I),
    ),
    ("month_day_year", re.compile(rf"\b{_LEAD}({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+({_YEAR})\b", re.I)),
    ("month_year", re.compile(rf"\b{_LEAD}({_MONTH})\.?,?\s+(?:of\s+)?({_YEAR})\b", re.I)),
    ("season_year", re.compile(rf"\b{_LEAD}({_SEASON})\s+(?:of\s+)?({_YEAR})\b", re.I)),
    ("holiday_year", re.compile(rf"\b{_LEAD}({_HOLIDAY})\s+(?:of\s+)?({_YEAR})\b", re.I)),
    ("relative", re.compile(rf"\b{_LEAD}(last|this)\s+({_SEASON}|{_HOLIDAY}|year|month|week)\b", re.I)),
    ("day_word", re.compile(r"\b(?:taken\s+)?(yesterday|today)\b", re.I)),
    ("year_range", re.compile(rf"\b{_LEAD}({_YEAR})\s*(?:-|–|to|until)\s*({_YEAR})\b", re.I)),
    ("decade", re.compile(rf"\b{_LEAD}((?:19|20)\d)0s\b", re.I)),
    ("year", re.compile(rf"\b{_LEAD}({_YEAR})\b", re.I)),
]


@dataclass(frozen=True)
class DateSpan:
    """A date phrase of the query and the span it means."""

    text: str  # as typed, e.g. "in july 2023"
    taken_from: str  # '2023-07', '2021-12-24', '2019'
    taken_to: str
    label: str  # for people: "July 2023"


def easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def _month_span(year: int, first: int, last: int) -> tuple[str, str]:
    end_year = year + 1 if last < first else year
    return f"{year}-{first:02d}", f"{end_year}-{last:02d}"


def _season_end(name: str, year: int) -> date:
    first, last = SEASONS[name]
    after = date(year + (last < first), last, 1) + timedelta(days=31)
    return after.replace(day=1) - timedelta(days=1)


def _season(name: str, year: int) -> tuple[str, str, str]:
    first, last = SEASONS[name]
    label = f"{name.capitalize()} {year}" + (f"/{(year + 1) % 100:02d}" if last < first else "")
    return (*_month_span(year, first, last), label)


def _holiday(name: str, year: int) -> tuple[str, str, str]:
    name = name.lower().replace("’", "'")
    if name in ("christmas", "xmas"):
        return f"{year}-12-24", f"{year}-12-26", f"Christmas {year}"
    if name == "christmas eve":
        return f"{year}-12-24", f"{year}-12-24", f"Christmas Eve {year}"
    if name in ("new year's eve", "new years eve"):
        return f"{year}-12-31", f"{year}-12-31", f"New Year's Eve {year}"
    if name == "new year":  # the night and the day after: new year 2022 begins on 31 Dec 2021
        return f"{year - 1}-12-31", f"{year}-01-01", f"New Year {year}"
    if name == "easter":  # Good Friday to Easter Monday
        sunday = easter(year)
        return f"{sunday - timedelta(days=2)}", f"{sunday + timedelta(days=1)}", f"Easter {year}"
    return f"{year}-10-31", f"{year}-10-31", f"Halloween {year}"  # halloween


def _last_or_this(which: str, unit: str, today: date) -> tuple[str, str, str]:
    unit = unit.lower()
    last = which.lower() == "last"
    if unit == "year":
        y = today.year - last
        return str(y), str(y), str(y)
    if unit == "month":
        first = today.replace(day=1)
        m = (first - timedelta(days=1)).replace(day=1) if last else first
        return f"{m:%Y-%m}", f"{m:%Y-%m}", f"{m:%B %Y}"
    if unit == "week":  # Monday to Sunday
        monday = today - timedelta(days=today.weekday()) - timedelta(days=7 * last)
        return f"{monday}", f"{monday + timedelta(days=6)}", f"the week of {monday:%-d %B %Y}"
    if unit in SEASONS:
        # last: the most recent season of that name that has ended; this: the one of this year (winter: the one
        # that began last December, in January and February)
        year = today.year - (1 if unit == "winter" and today.month <= 2 else 0)
        if last:
            year = today.year
            while _season_end(unit, year) >= today:
                year -= 1
        return _season(unit, year)
    year = today.year
    span = _holiday(unit, year)
    if last and span[1] >= f"{today}":  # not yet this year: last year's
        span = _holiday(unit, year - 1)
    return span


def _span(kind: str, g: tuple[str, ...], today: date) -> tuple[str, str, str]:
    if kind == "iso":
        y, m, d = g
        if not 1 <= int(m) <= 12:
            raise ValueError
        if d:
            day = date(int(y), int(m), int(d))
            return f"{day}", f"{day}", f"{day:%-d %B %Y}"
        return f"{y}-{m}", f"{y}-{m}", f"{date(int(y), int(m), 1):%B %Y}"
    if kind in ("day_month_year", "month_day_year"):
        d, mon, y = g if kind == "day_month_year" else (g[1], g[0], g[2])
        day = date(int(y), MONTHS[mon.lower()], int(d))
        return f"{day}", f"{day}", f"{day:%-d %B %Y}"
    if kind == "month_year":
        m = MONTHS[g[0].lower()]
        return f"{g[1]}-{m:02d}", f"{g[1]}-{m:02d}", f"{date(int(g[1]), m, 1):%B %Y}"
    if kind == "season_year":
        return _season(g[0].lower(), int(g[1]))
    if kind == "holiday_year":
        return _holiday(g[0], int(g[1]))
    if kind == "relative":
        return _last_or_this(g[0], g[1], today)
    if kind == "day_word":
        day = today - timedelta(days=1) if g[0].lower() == "yesterday" else today
        return f"{day}", f"{day}", f"{day:%-d %B %Y}"
    if kind == "year_range":
        a, b = sorted((g[0], g[1]))
        return a, b, f"{a}–{b}"
    if kind == "decade":
        return f"{g[0]}0", f"{g[0]}9", f"the {g[0]}0s"
    return g[0], g[0], g[0]  # year


def find_date(query: str, today: date | None = None) -> DateSpan | None:
    """The query's date phrase, if it has one (the most specific reading where phrases overlap)."""
    today = today or date.today()
    found: list[tuple[int, int, DateSpan]] = []
    taken: list[tuple[int, int]] = []  # found, or read and found to be no date ("31 February")
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(query):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue  # inside a more specific phrase already read
            if kind == "year" and not 1900 <= int(m.group(1)) <= today.year + 1:
                continue
            if kind == "year" and _is_not_a_date(query, m):
                continue
            taken.append((m.start(), m.end()))
            try:
                frm, to, label = _span(kind, m.groups(), today)
            except (ValueError, KeyError):
                continue  # "31 February 2021": no such day, so no date (and not February 2021 either)
            found.append((m.start(), m.end(), DateSpan(m.group(0).strip(), frm, to, label)))
    if not found:
        return None
    if len(found) > 1:
        names = " and ".join(f"“{d.text}”" for _, _, d in sorted(found, key=lambda x: x[0]))
        raise QueryError(f"the query names two dates ({names}): keep one, or set a range under Options")
    return found[0][2]


def _is_not_a_date(query: str, m: re.Match[str]) -> bool:
    """A number that only looks like a year: part of a weight ('dog:2021' is no weight either, but '#2021' is
    a picture), a number with a unit ('2000 km', '1920x1080'), a term's syntax ('like: #2019')."""
    before, after = query[: m.start(1)], query[m.end(1) :]
    return bool(re.search(r"[#@:.x×]\s*$", before) or re.match(r"\s*(?:km|m|px|x|×|mm|k|\.\d|%)", after, re.I))


def strip_date(query: str, today: date | None = None) -> tuple[str, DateSpan | None]:
    """The query without its date phrase, and the phrase: 'beach in july 2023, style: oil' ->
    ('beach, style: oil', July 2023)."""
    span = find_date(query, today)
    if span is None:
        return query, None
    i = query.find(span.text)
    rest = query[:i] + " " + query[i + len(span.text) :]
    rest = re.sub(r"\s+,", ",", " ".join(rest.split()))
    rest = re.sub(r"(^|,)\s*,", r"\1", rest).strip(" ,")  # a term that was only the date goes
    return rest, span


def intersect(a: tuple[str | None, str | None], b: tuple[str, str]) -> tuple[str, str]:
    """Two spans in prefix form, both to hold (the form's date fields and the typed date)."""
    frm = max((x for x in (a[0], b[0]) if x), default="")
    to = min((x for x in (a[1], b[1]) if x), default="")
    return frm, to
