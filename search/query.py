"""Weighted multi-term queries: the Term type and the one-line syntax of the search box and the CLI.

    sunset over mountains, style: van gogh:0.9, -people

Terms are separated by commas. A term may start with a target (`content:` or `style:`; content when
omitted), may end with `:weight` (a number in [-1, 1]; 1 when omitted), and a leading `-` makes it an
exclusion (weight -1, or minus the given weight).

Pictures are terms too: `like: #1234` (an indexed picture by id), `unlike: #88`, `like: 0.5 #77` (a weight
before the picture), `like: @3f9a...` (a picture dropped on the page, by its content hash).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from geo.geocoder import is_only, location_phrase, rephrase, split_place_phrase
from search.errors import QueryError

TEXT_TARGETS = ("content", "style", "location")  # what words can name; the suggester picks among these
TARGETS = (*TEXT_TARGETS, "image")
MAX_TERMS = 16


@dataclass(frozen=True)
class Term:
    text: str
    target: str = "content"
    weight: float = 1.0

    def to_dict(self) -> dict:
        return {"text": self.text, "target": self.target, "weight": self.weight}


_TARGET = re.compile(
    r"^\s*(content|style|location|in|near|only in|only near|like|unlike)\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL
)
# a picture: '#1234' (indexed, by id) or '@' and the start of a dropped picture's content hash
PICTURE = re.compile(r"^(?:#[1-9]\d{0,18}|@[0-9a-f]{12,64})$")
_PICTURES = re.compile(r"^(?:([+-]?(?:\d+\.?\d*|\.\d+))\s+)?((?:[#@]\w+\s*)+)$")
# "sunset in: France": a place prefix after other words starts a location term (the comma was forgotten)
_MID_PLACE = re.compile(r"^(.*?\S)\s+((?:only\s+)?(?:in|near))\s*:\s*(.+)$", re.IGNORECASE | re.DOTALL)
_WEIGHT = re.compile(r"^(.*?)\s*:\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*$", re.DOTALL)


def make_term(text: str, target: str = "content", weight: float = 1.0) -> Term:
    text = " ".join(text.split())
    target = target.strip().lower()
    if not text:
        raise QueryError("a term is empty: give it some words, or remove it")
    if len(text) > 300:
        raise QueryError(f"the term “{text[:40]}…” is too long (300 characters at most)")
    if target not in TARGETS:
        raise QueryError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    if not -1.0 <= weight <= 1.0:
        raise QueryError(f"the weight of “{text}” must be between -1 and 1, got {weight:g}")
    if target == "image" and not PICTURE.match(text):
        raise QueryError(f"“{text}” is not a picture: use #ID for an indexed one (like: #1234)")
    return Term(text, target, float(weight))


def parse_query(query: str) -> list[Term]:
    terms = []
    for raw in split_terms(query or ""):
        part = raw.strip()
        if not part:
            continue
        negative = part.startswith("-")
        part = part.lstrip("-").strip()
        target, explicit = "content", False
        m = _TARGET.match(part)
        if m:
            target, part, explicit = m.group(1).lower(), m.group(2).strip(), True
            if target in ("in", "near", "only in", "only near"):
                target, part = "location", f"{target} {part}"
            if target in ("like", "unlike"):
                terms += _pictures(part, negative != (target == "unlike"))
                continue
        weight = 1.0
        m = _WEIGHT.match(part)
        if m:
            part, weight = m.group(1).strip(), float(m.group(2))
        if negative:
            weight = -abs(weight)
        mid = _MID_PLACE.match(part) if not explicit else None
        if mid:
            terms += [
                make_term(mid.group(1), "content", weight),
                make_term(f"{mid.group(2)} {mid.group(3)}", "location", weight),
            ]
        elif target == "content" and not explicit:
            terms.extend(_split_place(part, weight))
        else:
            terms.append(make_term(part, target, weight))
    return validate(terms)


def _pictures(text: str, negative: bool) -> list[Term]:
    """'0.5 #77 #78' -> two picture terms of weight 0.5 (or -0.5 for unlike)."""
    weight = 1.0
    w = _WEIGHT.match(text)
    if w:
        text, weight = w.group(1).strip(), float(w.group(2))
    m = _PICTURES.match(text)
    if not m:
        raise QueryError(f"like/unlike takes pictures: #ID, e.g. “like: #1234” or “like: 0.5 #77” (got “{text}”)")
    if m.group(1):
        weight = float(m.group(1))
    weight = -abs(weight) if negative else weight
    return [make_term(ref, "image", weight) for ref in m.group(2).split()]


def split_terms(query: str) -> list[str]:
    """Split at commas, except inside parentheses: 'in: Paris (Texas, US), dogs' is two terms."""
    parts, depth, cur = [], 0, []
    for ch in query:
        depth += (ch == "(") - (ch == ")" and depth > 0)
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    return [*parts, "".join(cur)]


def with_place(term: Term, place: str) -> Term:
    """The location term with another place and the same near/in/only and radius: picking an alternative."""
    return Term(rephrase(term.text, place), "location", term.weight)


def _split_place(text: str, weight: float) -> list[Term]:
    """'garden scene in France' -> content 'garden scene' + location 'in France', if France is a place."""
    split = split_place_phrase(text)
    if split is None:
        return [make_term(text, "content", weight)]  # "dog in water": not a place, so it stays content
    rest, phrase = split
    out = [make_term(rest, "content", weight)] if rest else []
    return [*out, make_term(phrase, "location", weight)]


def is_hard(term: Term) -> bool:
    """'only in France' / 'only near Zurich': a filter, not just a preference."""
    return term.target == "location" and is_only(term.text)


def parse_term_option(option: str) -> Term:
    """The CLI's `--term TARGET:WEIGHT:TEXT`, e.g. `--term style:0.9:van gogh`."""
    parts = option.split(":", 2)
    if len(parts) != 3:
        raise QueryError(f"--term takes TARGET:WEIGHT:TEXT, e.g. style:0.9:van gogh (got {option!r})")
    try:
        weight = float(parts[1])
    except ValueError:
        raise QueryError(f"the weight in --term {option!r} is not a number") from None
    return make_term(parts[2], parts[0], weight)


def validate(terms: list[Term]) -> list[Term]:
    if not terms:
        raise QueryError("the query is empty: type what you are looking for")
    if len(terms) > MAX_TERMS:
        raise QueryError(f"too many terms ({len(terms)}); {MAX_TERMS} at most")
    if not any(t.weight > 0 for t in terms):
        raise QueryError("a query needs at least one term with a positive weight; exclusions alone find nothing")
    return terms


def format_query(terms: list[Term]) -> str:
    """The one-line form of a term list (parse_query(format_query(t)) == t)."""
    out = []
    for t in terms:
        if t.target == "image":
            verb = "unlike" if t.weight < 0 else "like"
            out.append(f"{verb}: " + (f"{abs(t.weight):g} " if abs(t.weight) != 1.0 else "") + t.text)
            continue
        text = t.text
        if t.target == "location":
            near, place = location_phrase(text)
            only = "only " if is_hard(t) else ""
            text = f"{only}{'near' if near and not place.lower().startswith('within') else 'in'}: {place}"
            if place.lower().startswith("within"):
                text = t.text
        s = ("-" if t.weight < 0 else "") + ("style: " if t.target == "style" else "") + text
        if abs(t.weight) != 1.0:
            s += f":{abs(t.weight):g}"
        out.append(s)
    return ", ".join(out)


def apply_balance(terms: list[Term], balance: float) -> list[Term]:
    """The UI's content/style emphasis: 0.5 leaves weights alone, 0 silences style terms, 1 content terms."""
    from search.options import check_balance

    check_balance(balance)
    factor = {"content": min(1.0, 2 * (1 - balance)), "style": min(1.0, 2 * balance)}
    return [Term(t.text, t.target, round(t.weight * factor.get(t.target, 1.0), 4)) for t in terms]
