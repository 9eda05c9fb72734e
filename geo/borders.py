"""Country outlines: Natural Earth 1:50m admin-0 polygons (npm's world-atlas, shipped in geo/data) for the
country a point lies in. The nearest populated place alone is wrong near borders: central Rome's nearest
gazetteer point is Vatican City, and a lakeside town can be nearest to a village across the water.

Also the decoder of world-atlas' TopoJSON, which the offline map (ui/worldmap.py) draws from.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from basics import Once

DATA = Path(__file__).parent / "data"
COUNTRIES_50M = DATA / "countries-50m.json"

Ring = list[tuple[float, float]]  # (lon, lat)
# Features world-atlas ships without an ISO numeric id; the codes GeoNames (and so the gazetteer) uses.
UNNUMBERED = {"Kosovo": "XK", "N. Cyprus": "CY", "Somaliland": "SO"}


@lru_cache(maxsize=4)
def decode_topojson(path: Path) -> list[tuple[str | None, str, list[list[Ring]]]]:
    """(ISO numeric id, name, polygons as lists of rings) of each country in a world-atlas TopoJSON file."""
    topo = json.loads(Path(path).read_text())
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:  # quantised and delta-encoded
        q = np.cumsum(np.asarray(arc, np.float64), axis=0)
        arcs.append([(float(x * sx + tx), float(y * sy + ty)) for x, y in q])

    def ring(indices: list[int]) -> Ring:
        pts: Ring = []
        for i in indices:
            seg = arcs[i] if i >= 0 else arcs[~i][::-1]
            pts.extend(seg[1:] if pts else seg)
        return pts

    out = []
    for g in topo["objects"]["countries"]["geometries"]:
        polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"] if g["type"] == "MultiPolygon" else []
        out.append((g.get("id"), g["properties"]["name"], [[ring(r) for r in poly] for poly in polys]))
    return out


def _alpha2(numeric: str | None, name: str) -> str | None:
    if numeric is None:
        return UNNUMBERED.get(name)
    import pycountry

    c = pycountry.countries.get(numeric=numeric)
    return c.alpha_2 if c else None


class Borders:
    """Point-in-country through an STRtree of the outlines; built on first use (about half a second)."""

    def __init__(self, path: Path = COUNTRIES_50M) -> None:
        self.path = path
        self._once = Once(self._load)

    def _load(self) -> None:
        import shapely

        geoms, codes = [], []
        for numeric, name, polys in decode_topojson(self.path):
            cc = _alpha2(numeric, name)
            if cc is None:
                continue
            for poly in polys:
                shells = [np.asarray(r) for r in poly if len(r) >= 4]  # quantisation can collapse a tiny ring
                if not shells or len(poly[0]) < 4:
                    continue
                crosses = any(np.abs(np.diff(s[:, 0])).max(initial=0) > 180 for s in shells)
                if crosses:  # a ring over the antimeridian: unwrap it east, and add a copy shifted west
                    shells = [np.column_stack([np.where(s[:, 0] < 0, s[:, 0] + 360, s[:, 0]), s[:, 1]]) for s in shells]
                for shift in (0.0, -360.0) if crosses else (0.0,):
                    rings = [s + np.array([shift, 0.0]) for s in shells]
                    geom = shapely.make_valid(shapely.Polygon(rings[0], rings[1:]))
                    geoms.append(geom)
                    codes.append(cc)
        self._geoms = np.array(geoms, dtype=object)
        self._codes = np.array(codes, dtype=object)
        self._areas = shapely.area(self._geoms)
        self._tree = shapely.STRtree(self._geoms)

    def country_codes(self, lat: np.ndarray, lon: np.ndarray) -> list[str | None]:
        """The ISO alpha-2 code of the country each point lies in; None at sea or where outlines are too coarse."""
        import shapely

        self._once.get()
        pts = shapely.points(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        point_idx, geom_idx = self._tree.query(pts, predicate="intersects")
        out: list[str | None] = [None] * len(pts)
        best = np.full(len(pts), np.inf)
        for p, g in zip(point_idx.tolist(), geom_idx.tolist(), strict=True):
            if self._areas[g] < best[p]:  # an enclave (Vatican City in Italy) wins over the country around it
                best[p], out[p] = self._areas[g], str(self._codes[g])
        return out


BORDERS = Borders()
