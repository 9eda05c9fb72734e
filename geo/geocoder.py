"""Place names to areas, and the whole location grammar: 'in France', 'near Zurich 20km', 'within 5 km of
Lyon', 'only in CH', 'Paris (Texas, US)', landmarks; the plain phrases that name a place inside a query
('garden scene in France') or at the end of a description ('... at the Eiffel Tower'). Forward geocoding uses
the same gazetteer and names as the photos' places.
"""

from __future__ import annotations

import csv
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from basics import Once
from geo.gazetteer import GAZETTEER, Gazetteer, _norm, distance_km

# forward geocoding ---------------------------------------------------------------------------------------
DEFAULT_CITY_KM = 15.0  # "in Zurich": the city and its surroundings
DEFAULT_NEAR_KM = 25.0  # "near Zurich"


class UnknownPlace(ValueError):
    pass


@dataclass(frozen=True)
class Area:
    """A resolved location term: a country, a region, or a point with a radius."""

    kind: str  # country | region | city | landmark (the last two: a point and a radius)
    name: str
    country_code: str
    region: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    alternatives: tuple[str, ...] = ()
    ambiguous: bool = False  # other towns share the name (picked or not): the label then names the region

    @property
    def label(self) -> str:
        if self.kind == "country":
            return f"{self.name} (country)"
        if self.kind == "region":
            return f"{self.name}, {self.country_code} (region)"
        if self.kind == "landmark":
            return f"{self.name} (landmark), {self.country_code}, {self.radius_km:g} km"
        if self.ambiguous and self.region:  # say which of the towns of that name this is
            return f"{qualified(self.name, self.region, self.country_code)}, {self.radius_km:g} km"
        return f"{self.name}, {self.country_code}, {self.radius_km:g} km"

    def scores(self, cc: np.ndarray, region: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """1 inside; outside a radius, exp(-(d - r) / r); 0 outside a country or region; 0 without a place."""
        if self.kind == "country":
            return (cc == self.country_code).astype(np.float32)
        if self.kind == "region":
            return ((cc == self.country_code) & (region == self.region)).astype(np.float32)
        d = distance_km(lat, lon, self.lat, self.lon)
        r = float(self.radius_km or DEFAULT_NEAR_KM)
        out = np.where(d <= r, 1.0, np.exp(-(d - r) / r))
        return np.where(np.isnan(d), 0.0, out).astype(np.float32)


_RADIUS = re.compile(r"^(.*?)\s*(\d+(?:\.\d+)?)\s*km$", re.IGNORECASE)
_WITHIN = re.compile(r"^within\s+(\d+(?:\.\d+)?)\s*km\s+of\s+(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Landmark:
    name: str
    country_code: str
    lat: float
    lon: float
    radius_km: float


LANDMARKS_CSV = Path(__file__).parent / "data" / "landmarks.csv"


def load_landmarks(path: Path = LANDMARKS_CSV) -> dict[str, Landmark]:
    """Well-known places that are not towns (geo/data/landmarks.csv), by folded name and alias."""
    out: dict[str, Landmark] = {}
    with open(path, encoding="utf-8") as f:
        reader = csv.DictReader((line for line in f if not line.startswith("#")), delimiter=";")
        for r in reader:
            lm = Landmark(r["name"], r["country_code"], float(r["lat"]), float(r["lon"]), float(r["radius_km"]))
            for n in [r["name"], *filter(None, r["aliases"].split("|"))]:
                out.setdefault(_norm(n), lm)
    return out


def qualified(city: str, region: str | None, country_code: str) -> str:
    """A place name that resolves to exactly this town: 'Paris (Texas, US)'."""
    return f"{city} ({region}, {country_code})" if region else f"{city} ({country_code})"


_QUALIFIED = re.compile(r"^(.*?)\s*\(([^()]*)\)$")


class Geocoder:
    """Place names to areas, from the same gazetteer data and a list of landmarks; the most populous town of
    a name wins and the others are offered as alternatives ('Paris (Texas, US)' picks one)."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gz = gazetteer
        self._lock = threading.Lock()  # guards the memory of resolved terms
        self._once = Once(self._load)
        self._resolved: dict[str, Area] = {}

    def _ready(self) -> None:
        self._once.get()

    def _load(self) -> None:
        self.gz._ready()
        cities: dict[str, list[int]] = {}
        regions: dict[str, dict[str, int]] = {}
        for i, r in enumerate(self.gz.rows):
            name = _norm(r["city"])
            cities.setdefault(name, []).append(i)
            base = name.split(" (")[0].split(" /")[0]  # "zürich (kreis 1) / lindenhof" is also "zürich"
            if base != name:
                cities.setdefault(base, []).append(i)
            if r.get("state"):
                per = regions.setdefault(_norm(r["state"]), {})
                per[r["country_code"]] = per.get(r["country_code"], 0) + int(r["population"])
        self._regions = regions
        self._countries = {_norm(n): c for c, n in self.gz.countries.items()}
        self.landmarks = load_landmarks()
        self._cities = cities

    def _country(self, key: str) -> str | None:
        return key.upper() if len(key) == 2 and key.upper() in self.gz.countries else self._countries.get(key)

    def _split_qualifiers(self, text: str) -> tuple[str, list[str]]:
        """'Paris (Texas, US)' or 'Paris, Texas, US' -> ('paris', ['texas', 'us']), unless the whole text is
        itself a name the gazetteer knows ('Zürich (Kreis 1)')."""
        key = _norm(text)
        if key in self._cities or key in self.landmarks:
            return key, []
        m = _QUALIFIED.match(text)
        head, quals = (m.group(1), m.group(2).split(",")) if m else (text.split(",")[0], text.split(",")[1:])
        return _norm(head), [q for q in (_norm(q) for q in quals) if q]

    def _matches(self, row: dict, quals: list[str]) -> bool:
        for q in quals:
            cc = self._country(q)
            if cc is not None:
                if row["country_code"] != cc:
                    return False
            elif _norm(row.get("state") or "") != q:
                return False
        return True

    def resolve(self, phrase: str, near: bool = False) -> Area:
        """'France', 'CH', 'Zurich', 'Zurich 20km', 'within 5 km of Lyon', 'Bavaria', 'Eiffel Tower',
        'Paris (Texas, US)', 'Paris, France'."""
        self._ready()
        text, radius = phrase.strip(), None
        m = _WITHIN.match(text)
        if m:
            radius, text = float(m.group(1)), m.group(2)
        else:
            m = _RADIUS.match(text)
            if m:
                text, radius = m.group(1), float(m.group(2))
        key, quals = self._split_qualifiers(text)
        if not key:
            raise UnknownPlace("a location term needs a place name")
        if radius is None and not quals and (cc := self._country(key)):
            return Area("country", self.gz.countries[cc], cc)
        rows = sorted(
            (i for i in self._cities.get(key, []) if self._matches(self.gz.rows[i], quals)),
            key=lambda i: -int(self.gz.rows[i]["population"]),
        )
        lm = self.landmarks.get(key)
        # a landmark takes country qualifiers only: 'Victoria Falls (Matabeleland North, ZW)' is the town
        if lm is not None and all(self._country(q) == lm.country_code for q in quals):
            r_km = radius or (max(3 * lm.radius_km, 2.0) if near else lm.radius_km)
            towns = self._alternatives(rows, None)
            return Area("landmark", lm.name, lm.country_code, None, lm.lat, lm.lon, r_km, towns)
        if rows:
            best = self.gz.rows[rows[0]]
            r_km = radius or (DEFAULT_NEAR_KM if near else DEFAULT_CITY_KM)
            alts = self._alternatives(rows[1:], best)
            return Area(
                "city",
                best["city"],
                best["country_code"],
                best.get("state"),
                best["latitude"],
                best["longitude"],
                r_km,
                alts,
                ambiguous=bool(alts) or bool(quals and self._alternatives(self._cities[key], best, 1)),
            )
        if radius is None and key in self._regions:
            per = {cc: n for cc, n in self._regions[key].items() if self._matches({"country_code": cc}, quals[:1])}
            if per:
                cc = max(per, key=per.get)
                name = next(r["state"] for r in self.gz.rows if r.get("state") and _norm(r["state"]) == key)
                return Area("region", name, cc, name)
        raise UnknownPlace(
            f"unknown place “{text.strip()}”: not a country, region, town or landmark in the offline gazetteer"
        )

    def resolve_term(self, text: str) -> Area:
        """A location term's text ('in France', 'near Zurich 20km', 'only in CH', 'Zurich') resolved; remembered,
        so that one request resolving the same term for the search, the note and the label does it once."""
        with self._lock:
            hit = self._resolved.get(text)
        if hit is not None:
            return hit
        near, phrase = location_phrase(text)
        area = self.resolve(phrase, near=near)
        with self._lock:
            if len(self._resolved) > 4096:
                self._resolved.clear()
            self._resolved[text] = area
        return area

    def _alternatives(self, rows: list[int], best: dict | None, limit: int = 4) -> tuple[str, ...]:
        """Other towns of the name, as names that resolve to them; districts of the chosen town are skipped."""
        seen = {(best["city"], best.get("state"), best["country_code"])} if best else set()
        alts: list[str] = []
        for i in rows:
            r = self.gz.rows[i]
            if best is not None:
                d = distance_km(
                    np.array([r["latitude"]]), np.array([r["longitude"]]), best["latitude"], best["longitude"]
                )[0]
                if d < 50:  # a district of the same town is no alternative
                    continue
            if (r["city"], r.get("state"), r["country_code"]) not in seen and len(alts) < limit:
                seen.add((r["city"], r.get("state"), r["country_code"]))
                alts.append(qualified(r["city"], r.get("state"), r["country_code"]))
        return tuple(alts)


GEOCODER = Geocoder(GAZETTEER)


# the location grammar --------------------------------------------------------------------------------------
# plain phrases that name a place inside a query: "garden scene in France", "near Zurich", "within 5 km of Lyon"
_PLACE_PHRASE = re.compile(
    r"^(?:(.*?)\s+)?((?:in|near)\s+.+|within\s+\d+(?:\.\d+)?\s*km\s+of\s+.+)$", re.IGNORECASE | re.DOTALL
)
# a place at the end of a description: "... at the beach in France", "... near Zurich 20km"
_TRAILING_PLACE = re.compile(
    r"\b(in|near|at|around)\s+((?:within\s+\d+\s*km\s+of\s+)?[\w'().,-]+(?:\s+[\w'().,-]+){0,4})$", re.I
)
_PREPOSITION = re.compile(r"\b(?:in|near|at|around)\s", re.I)


def location_phrase(text: str) -> tuple[bool, str]:
    """(near?, place) from a location term's text: 'near Zurich 20km' -> (True, 'Zurich 20km')."""
    t = text.strip()
    if t.lower().startswith("only "):
        t = t[5:].strip()
    low = t.lower()
    if low.startswith("near "):
        return True, t[5:].strip()
    if low.startswith("in "):
        return False, t[3:].strip()
    return low.startswith("within "), t


def is_only(text: str) -> bool:
    """'only in France' / 'only near Zurich': a filter, not just a preference."""
    return text.strip().lower().startswith("only ")


def as_location_text(text: str) -> str:
    """A place name as a location term's text: 'France' -> 'in France'; 'near Zurich' stays."""
    return text if re.match(r"^(in|near|within|only)\s", text, re.IGNORECASE) else f"in {text}"


def rephrase(text: str, place: str) -> str:
    """The location text with another place and the same near/in/only and radius: picking an alternative."""
    near, phrase = location_phrase(text)
    only = "only " if is_only(text) else ""
    m = re.match(r"^within\s+(\d+(?:\.\d+)?)\s*km\s+of\s+", phrase, re.IGNORECASE)
    if m:
        return f"{only}within {m.group(1)} km of {place}"
    r = re.search(r"\s(\d+(?:\.\d+)?)\s*km$", phrase, re.IGNORECASE)
    radius = f" {r.group(1)}km" if r else ""
    return f"{only}{'near' if near else 'in'} {place}{radius}"


def split_place_phrase(text: str, geocoder: Geocoder | None = None) -> tuple[str, str] | None:
    """'garden scene in France' -> ('garden scene', 'in France') when the words after in/near name a known
    place; None otherwise ('dog in water' stays content)."""
    m = _PLACE_PHRASE.match(text)
    if m is None:
        return None
    rest, phrase = (m.group(1) or "").strip(), m.group(2).strip()
    try:
        (geocoder or GEOCODER).resolve_term(phrase)
    except UnknownPlace:
        return None
    return rest, phrase


def trailing_place(text: str, geocoder: Geocoder | None = None) -> tuple[str, str] | None:
    """A description's trailing place: (the text without it, the location term), the longest tail the
    gazetteer knows ('... at the Eiffel Tower' -> 'in Eiffel Tower'); a lowercase small town is no place
    ('at the beach' is no trip to Beach, ND), and a later preposition gets its turn ('people at the beach
    in France' -> 'in France')."""
    for m in _PREPOSITION.finditer(text):
        tail = _TRAILING_PLACE.match(text, m.start())
        if tail is not None and (found := _place_at(text, tail, geocoder)) is not None:
            return found
    return None


def _place_at(text: str, m: re.Match[str], geocoder: Geocoder | None) -> tuple[str, str] | None:
    words = m.group(2).split()
    if words and words[0].lower() == "the" and len(words) > 1:  # "at the Eiffel Tower"
        words = words[1:]
    for n in range(len(words), 0, -1):
        tail = " ".join(words[:n]).strip(" ,.")
        try:
            area = (geocoder or GEOCODER).resolve(tail, near=m.group(1).lower() == "near")
        except UnknownPlace:
            continue
        if area.kind == "city" and not tail[:1].isupper():
            continue
        prep = "near" if m.group(1).lower() in ("near", "around") else "in"
        rest = text[: m.start()] + " " + " ".join(words[n:])
        rest = re.sub(r"\s(?:at|in|near|around)\s+the\s*$", " ", rest, flags=re.IGNORECASE)
        return rest, f"{prep} {tail}"
    return None


def understood(area: Area, inline: bool = True) -> str:
    """How a place term was understood, with the other places of that name: one wording for the builder row
    ('… · also: a; b') and, with inline=False, for a line of text ('… (also: a; b)')."""
    if not area.alternatives:
        return area.label
    also = "; ".join(area.alternatives)
    return f"{area.label} · also: {also}" if inline else f"{area.label} (also: {also})"
