"""Dates in the search box: many phrasings, and the words that must stay content."""

from __future__ import annotations

from datetime import date

import pytest

from search.dates import easter, strip_date
from search.errors import QueryError

TODAY = date(2026, 11, 24)  # a Tuesday


@pytest.mark.parametrize(
    ("query", "rest", "span", "label"),
    [
        ("beach july 2023", "beach", ("2023-07", "2023-07"), "July 2023"),
        ("beach in July 2023", "beach", ("2023-07", "2023-07"), "July 2023"),
        ("snow 2019", "snow", ("2019", "2019"), "2019"),
        ("snow in 2019", "snow", ("2019", "2019"), "2019"),
        ("may 2021", "", ("2021-05", "2021-05"), "May 2021"),
        ("protest march 2020", "protest", ("2020-03", "2020-03"), "March 2020"),
        ("dogs sept. 2022", "dogs", ("2022-09", "2022-09"), "September 2022"),
        ("sunset 14 july 2021", "sunset", ("2021-07-14", "2021-07-14"), "14 July 2021"),
        ("fireworks july 4th, 2021", "fireworks", ("2021-07-04", "2021-07-04"), "4 July 2021"),
        ("2021-07-14 harbour", "harbour", ("2021-07-14", "2021-07-14"), "14 July 2021"),
        ("kids 2019-2021", "kids", ("2019", "2021"), "2019–2021"),
        ("cars from the 1990s", "cars", ("1990", "1999"), "the 1990s"),
        ("fall 2019", "", ("2019-09", "2019-11"), "Fall 2019"),
        ("leaves autumn of 2018", "leaves", ("2018-09", "2018-11"), "Autumn 2018"),
        ("skiing winter 2021", "skiing", ("2021-12", "2022-02"), "Winter 2021/22"),
        ("christmas 2021", "", ("2021-12-24", "2021-12-26"), "Christmas 2021"),
        ("tree xmas 2020", "tree", ("2020-12-24", "2020-12-26"), "Christmas 2020"),
        ("new year's eve 2021", "", ("2021-12-31", "2021-12-31"), "New Year's Eve 2021"),
        ("easter 2024", "", ("2024-03-29", "2024-04-01"), "Easter 2024"),
        ("halloween 2020 costumes", "costumes", ("2020-10-31", "2020-10-31"), "Halloween 2020"),
        ("last summer", "", ("2026-06", "2026-08"), "Summer 2026"),  # ended in August
        ("beach last summer", "beach", ("2026-06", "2026-08"), "Summer 2026"),
        ("last fall", "", ("2025-09", "2025-11"), "Fall 2025"),  # this year's ends on 30 November: not yet over
        ("last winter", "", ("2025-12", "2026-02"), "Winter 2025/26"),
        ("last christmas", "", ("2025-12-24", "2025-12-26"), "Christmas 2025"),
        ("this year", "", ("2026", "2026"), "2026"),
        ("last year", "", ("2025", "2025"), "2025"),
        ("last month", "", ("2026-10", "2026-10"), "October 2026"),
        ("last week", "", ("2026-11-16", "2026-11-22"), "the week of 16 November 2026"),
        ("cake yesterday", "cake", ("2026-11-23", "2026-11-23"), "23 November 2026"),
        ("beach july 2023, style: oil painting", "beach, style: oil painting", ("2023-07", "2023-07"), "July 2023"),
        ("sunset, july 2023", "sunset", ("2023-07", "2023-07"), "July 2023"),
    ],
)
def test_date_phrases(query: str, rest: str, span: tuple[str, str], label: str) -> None:
    got_rest, got = strip_date(query, TODAY)
    assert got is not None, query
    assert (got_rest, (got.taken_from, got.taken_to), got.label) == (rest, span, label)


@pytest.mark.parametrize(
    "query",
    [
        "may flowers",  # a month name alone is never a date
        "march of the penguins",
        "soldiers march",
        "fall leaves",  # a season alone neither
        "waterfall",
        "summer dress",
        "1920x1080 wallpaper",  # numbers that only look like years
        "2000 km road trip",
        "like: #2019",
        "dog:0.5",
        "31 february 2021 party",  # no such day
        "august rush",
        "the year of the dragon",
    ],
)
def test_content_words_are_not_eaten(query: str) -> None:
    assert strip_date(query, TODAY) == (query, None)


def test_two_dates_are_refused_with_a_way_out() -> None:
    with pytest.raises(QueryError, match="two dates"):
        strip_date("july 2023 and christmas 2021", TODAY)


def test_easter_is_the_gregorian_computus() -> None:
    # known Easter Sundays
    assert [easter(y) for y in (2000, 2019, 2024, 2025, 2038)] == [
        date(2000, 4, 23),
        date(2019, 4, 21),
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2038, 4, 25),
    ]
