"""Query suggestions: a description in the user's words becomes weighted terms for each model.

Two engines make them. A local LLM (models/llm.py), its answer constrained to SCHEMA, when one is installed;
and, offline and always available, a rule-based suggester that splits the description into style and medium
phrases (from the shipped vocabulary), places (from the gazetteer) and the content that is left. Whatever the
engine says passes through `clean_terms`: weights clamped, junk, empty and duplicate terms dropped, places
checked against the gazetteer, and a note for each change.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from geo.geocoder import GEOCODER, UnknownPlace, as_location_text, trailing_place
from search.dates import DateSpan
from search.query import TEXT_TARGETS, Term, split_terms

VOCABULARY = Path(__file__).parent / "data" / "vocabulary.json"
MAX_SUGGESTIONS = 8
MAX_TEXT = 60
WEIGHTS = [round(x / 10, 1) for x in range(-10, 11)]  # the LLM picks from these; anything else is clamped

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "terms": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_SUGGESTIONS,
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string", "minLength": 2, "maxLength": MAX_TEXT},
                    "target": {"type": "string", "enum": list(TEXT_TARGETS)},
                    "weight": {"type": "number", "enum": WEIGHTS},
                },
                "required": ["text", "target", "weight"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["terms"],
    "additionalProperties": False,
}


@dataclass
class Suggestions:
    terms: list[Term]
    engine: str  # "rules", or "llm: <model title>"
    notes: list[str] = field(default_factory=list)
    date: DateSpan | None = None  # the description's date phrase: a filter, kept in the search box, not a term

    def to_dict(self) -> dict:
        date = None
        if self.date is not None:
            d = self.date
            date = {"text": d.text, "taken_from": d.taken_from, "taken_to": d.taken_to, "label": d.label}
        return {"engine": self.engine, "terms": [t.to_dict() for t in self.terms], "notes": self.notes, "date": date}


@dataclass
class Tags:
    """What the top results look like, by zero-shot tagging: (tag, how many of the results carry it)."""

    subjects: list[tuple[str, int]] = field(default_factory=list)
    styles: list[tuple[str, int]] = field(default_factory=list)
    media: list[tuple[str, int]] = field(default_factory=list)
    of: int = 0  # how many results were tagged

    def __bool__(self) -> bool:
        return bool(self.subjects or self.styles or self.media)

    def describe(self) -> str:
        parts = [
            f"{name}: " + ", ".join(f"{t} ({n}/{self.of})" for t, n in tags)
            for name, tags in (("subjects", self.subjects), ("styles", self.styles), ("media", self.media))
            if tags
        ]
        return "; ".join(parts)


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    return json.loads(VOCABULARY.read_text(encoding="utf-8"))


# cleaning ------------------------------------------------------------------------------------------------
def _clean_text(text: Any) -> str:
    """Control and format characters out, whitespace collapsed, cut at a word boundary."""
    s = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in str(text))
    s = " ".join(s.split()).strip(" ,;:.-")
    if len(s) > MAX_TEXT:
        s = s[:MAX_TEXT].rsplit(" ", 1)[0]
    return s


def clean_terms(raw: Any) -> tuple[list[Term], list[str]]:
    """Validated terms from an engine's raw answer (a list of {text, target, weight}), and notes on what was
    changed or dropped. Unknown places become content terms."""
    notes: list[str] = []
    items = raw.get("terms") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        return [], ["the suggestion engine gave no list of terms"]
    out: list[Term] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        if not isinstance(item, dict):
            notes.append(f"dropped a malformed suggestion: {str(item)[:40]!r}")
            continue
        text = _clean_text(item.get("text", ""))
        target = str(item.get("target", "content")).strip().lower()
        try:
            weight = float(item.get("weight", 1.0))
        except (TypeError, ValueError):
            weight = float("nan")
        if len(text) < 2 or not any(c.isalnum() for c in text):
            notes.append("dropped an empty suggestion")
            continue
        if target not in TEXT_TARGETS:
            notes.append(f"“{text}”: unknown target {target!r}, dropped")
            continue
        if not np.isfinite(weight) or weight == 0:
            notes.append(f"“{text}”: no usable weight, dropped")
            continue
        if not -1 <= weight <= 1:
            clamped = max(-1.0, min(1.0, weight))
            notes.append(f"“{text}”: weight {weight:g} clamped to {clamped:g}")
            weight = clamped
        if target == "location":
            try:
                GEOCODER.resolve_term(text)
                text = as_location_text(text)
            except UnknownPlace:
                notes.append(f"“{text}” is not a place the offline gazetteer knows: kept as a content term")
                target = "content"
        key = (target, text.casefold())
        if key in seen:
            notes.append(f"“{text}” ({target}) twice: kept once")
            continue
        seen.add(key)
        out.append(Term(text, target, round(weight, 2)))
    if len(out) > MAX_SUGGESTIONS:
        notes.append(f"kept the first {MAX_SUGGESTIONS} of {len(out)} suggestions")
        out = out[:MAX_SUGGESTIONS]
    if out and not any(t.weight > 0 for t in out):
        notes.append("every suggestion was an exclusion: add a term to look for")
    return out, notes


# rule-based ----------------------------------------------------------------------------------------------
_FILLER = re.compile(
    r"\b(?:(?:photos?|pictures?|images?|paintings?|drawings?|illustrations?|works?|art(?:work)?s?)\s+(?:of|with|showing)"
    r"|in\s+the\s+style\s+of|style\s+of|in\s+the\s+manner\s+of|(?:in|with)\s+(?:an?\s+)?(?:style|look|feel)"
    r"|(?:-\s*)?style|styled|inspired\s+by)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(?:without|no|not|except|excluding)\s+(?:any\s+)?([\w\s'-]+?)(?=$|,|;|\band\b|\bbut\b)", re.I
)


def _phrase(m: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + re.escape(m) + r"(?![\w-])", re.IGNORECASE)


def rule_suggestions(description: str, tags: Tags | None = None) -> tuple[list[dict], list[str]]:
    """Split a description into raw terms: styles, media and textures from the vocabulary (each with a
    weaker related term), a trailing place from the gazetteer, exclusions ("without people"), and the rest
    as content. With tags, the commonest ones of the current results join as weaker terms."""
    vocab = vocabulary()
    text = " ".join(description.split())
    text = re.sub(r"(\w)-(?:inspired|style|styled|esque)\b", r"\1", text, flags=re.IGNORECASE)  # "picasso-inspired"
    raw: list[dict] = []
    notes: list[str] = []
    negatives = []
    for m in _NEGATION.finditer(text):
        negatives.append(m.group(1).strip())
    text = " ".join(_NEGATION.sub(" ", text).split())
    # a place at the end ("... in France", "near Zurich 20km"): the longest tail the gazetteer knows
    tail = trailing_place(text)
    if tail is not None:
        text, phrase = tail
        raw.append({"text": phrase, "target": "location", "weight": 1.0})
    found_style = False
    for group, weight, related_weight in (("styles", 0.9, 0.6), ("media", 0.8, 0.5), ("textures", 0.6, 0.0)):
        for entry in vocab[group]:
            if entry.get("generic") and found_style:  # "impressionist paintings": the style says painting
                for p in entry["match"]:
                    text = _phrase(p).sub(" ", text)
                continue
            hits = [p for p in entry["match"] if _phrase(p).search(text)]
            if not hits:
                continue
            for p in sorted(hits, key=len, reverse=True):
                text = _phrase(p).sub(" ", text)
            raw.append({"text": entry["term"], "target": "style", "weight": weight})
            found_style = found_style or group == "styles"
            raw += [
                {"text": r, "target": "style", "weight": related_weight} for r in entry["related"][:1] if related_weight
            ]
    content = _FILLER.sub(" ", text)
    # what a removed artist or style leaves at the end: "paintings of boats by", "a portrait in the"
    content = re.sub(r"\b(?:a|an|the|of|and|with|in|at|on|by)\s*$", " ", " ".join(content.split()), flags=re.I)
    content = " ".join(content.split()).strip(" ,;:.-")
    parts = []
    for part in split_terms(content):
        # what a removed style word leaves behind: "a watercolour of the Matterhorn" -> "the Matterhorn"
        part = re.sub(r"^(?:(?:a|an)\s+)?(?:of|and|with|in|at|on)\s+", "", part.strip(), flags=re.IGNORECASE)
        if len(part) >= 2 and any(c.isalpha() for c in part):
            parts.append({"text": part, "target": "content", "weight": 1.0})
    raw[:0] = parts
    raw += [{"text": n, "target": "content", "weight": -0.8} for n in negatives if n]
    if tags:
        have = {str(r["text"]).casefold() for r in raw}
        for tag, _ in tags.subjects[:2]:
            if tag.casefold() not in have:
                raw.append({"text": tag, "target": "content", "weight": 0.5})
        for tag, _ in tags.styles[:1] + tags.media[:1]:
            if tag.casefold() not in have:
                raw.append({"text": tag, "target": "style", "weight": 0.5})
        notes.append(f"added what the current results look like: {tags.describe()}")
    if not raw:
        notes.append("nothing in the description to search for")
    return raw, notes


# the LLM -------------------------------------------------------------------------------------------------
SYSTEM_PROMPT = """You turn a description of pictures into search terms for a local image search engine.
It has three models; each term goes to one of them:
- content (CLIP ViT-B/16): concrete things: objects, scenes, actions, colours, composition. \
"people playing in the sand", "red sailboat at sunset", "close-up of a cat".
- style (Stable Diffusion's CLIP ViT-L/14): how it looks: artistic movements, artists, techniques, media, \
textures. "impressionist painting", "loose brushwork", "watercolor", "film grain".
- location: a place name only (country, region, town or landmark) that the description names. \
"France", "Zurich", "Eiffel Tower". Never invent a place.
Give 2 to 6 terms of 2 to 6 words: a balance of specific and general ones. weight from -1 to 1: \
1 essential, 0.5 nice to have, negative excludes ("no people" gives people with weight -0.8).
Example: "impressionist paintings of people at the beach" ->
{"terms": [{"text": "people playing in the sand", "target": "content", "weight": 0.8}, \
{"text": "people at the beach", "target": "content", "weight": 0.6}, \
{"text": "impressionist painting", "target": "style", "weight": 0.9}, \
{"text": "loose brushwork", "target": "style", "weight": 0.6}]}
Answer with the JSON object only."""


def llm_messages(description: str, tags: Tags | None = None) -> list[dict[str, str]]:
    user = f"Description: {description.strip()}"
    if tags:
        user += (
            f"\nThe current top {tags.of} results look like this (tags from the models): {tags.describe()}."
            "\nSuggest terms that find more pictures like these, keeping to the description."
        )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


class JsonChat(Protocol):
    def chat_json(
        self, messages: list[dict[str, str]], schema: dict, max_tokens: int = ..., timeout_s: float = ...
    ) -> tuple[Any, str]: ...


def llm_suggestions(llm: JsonChat, description: str, tags: Tags | None, timeout_s: float) -> tuple[Any, list[str]]:
    answer, finish = llm.chat_json(llm_messages(description, tags), SCHEMA, max_tokens=600, timeout_s=timeout_s)
    return answer, (["the model's answer reached the token limit"] if finish == "length" else [])


# zero-shot tags ------------------------------------------------------------------------------------------
def tag_vocabulary(space: str) -> dict[str, list[str]]:
    """The tags each space assigns: subjects in the content space, styles and media in the style space."""
    v = vocabulary()
    if space == "content":
        return {"subjects": list(v["subjects"])}
    if space == "style":
        return {"styles": [e["term"] for e in v["styles"]], "media": [e["term"] for e in v["media"]]}
    return {}


def count_tags(image_vecs: np.ndarray, tag_vecs: np.ndarray, names: list[str], per_image: int) -> list[tuple[str, int]]:
    """Each image's `per_image` nearest tags by cosine, counted over the images, commonest first."""
    if len(image_vecs) == 0 or len(names) == 0:
        return []
    sims = image_vecs @ tag_vecs.T
    top = np.argsort(-sims, axis=1)[:, :per_image]
    counts = Counter(names[j] for row in top for j in row)
    mean = {n: float(sims[:, names.index(n)].mean()) for n in counts}
    return sorted(counts.items(), key=lambda kv: (-kv[1], -mean[kv[0]]))[:5]
