"""An offline world map: Natural Earth country outlines (world-atlas, vendored from npm) drawn as SVG on the
server, with a marker per result that has GPS. Equirectangular: x from longitude, y from latitude."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from fasthtml.common import Button, Div, P, ft_hx
from fasthtml.svg import Path as SvgPath
from fasthtml.svg import Svg, Title
from monsterui.all import DivFullySpaced

from geo.borders import decode_topojson

ATLAS = Path(__file__).parent / "static" / "vendor" / "countries-110m.json"
W, H = 960, 480


def _xy(lon: float, lat: float) -> tuple[float, float]:
    return (lon + 180.0) / 360.0 * W, (90.0 - lat) / 180.0 * H


@lru_cache(maxsize=1)
def country_paths() -> str:
    """The SVG path data of every country, decoded once from the TopoJSON (quantised, delta-encoded arcs)."""

    def ring(pts: list[tuple[float, float]]) -> str:
        # a ring that crosses the antimeridian is cut there, so no line runs across the whole map
        parts: list[list[tuple[float, float]]] = [[]]
        for lon, lat in pts:
            if parts[-1] and abs(lon - parts[-1][-1][0]) > 180:
                parts.append([])
            parts[-1].append((lon, lat))
        d = "".join("M" + "L".join("{:.1f},{:.1f}".format(*_xy(lon, lat)) for lon, lat in part) for part in parts)
        return d + ("Z" if len(parts) == 1 else "")

    return "".join(ring(r) for _, _, polys in decode_topojson(ATLAS) for poly in polys for r in poly)


Box = tuple[float, float, float, float]  # lon0, lat0, lon1, lat1 (west, south, east, north)
CLUSTER_PX = 26  # markers nearer than this on a map 960 px wide become one cluster with a count
MIN_SPAN_DEG = 0.05  # the closest zoom: about 5 km across


def extent(located: list[dict]) -> Box:
    """The results' extent, padded by a tenth (a single picture: its neighbourhood), never tighter than
    MIN_SPAN_DEG."""
    lons = [r["gps"]["lon"] for r in located]
    lats = [r["gps"]["lat"] for r in located]
    lon0, lon1, lat0, lat1 = min(lons), max(lons), min(lats), max(lats)
    pad_lon = max((lon1 - lon0) * 0.1, MIN_SPAN_DEG / 2)
    pad_lat = max((lat1 - lat0) * 0.1, MIN_SPAN_DEG / 4)
    return (max(lon0 - pad_lon, -180), max(lat0 - pad_lat, -90), min(lon1 + pad_lon, 180), min(lat1 + pad_lat, 90))


def view_box(box: Box) -> tuple[float, float, float, float]:
    """The SVG viewBox (x, y, width, height) showing the box, widened to the map's 2:1 shape."""
    x0, y0 = _xy(box[0], box[3])
    x1, y1 = _xy(box[2], box[1])
    w, h = max(x1 - x0, 1e-3), max(y1 - y0, 1e-3)
    if w / h < W / H:
        x0, w = x0 - (h * W / H - w) / 2, h * W / H
    else:
        y0, h = y0 - (w * H / W - h) / 2, w * H / W
    return x0, y0, w, h


def clusters(located: list[dict], unit: float) -> list[list[dict]]:
    """Greedy, in rank order: each picture joins the first cluster whose first picture is within CLUSTER_PX
    screen pixels (`unit`: map units per pixel), so the best results anchor the clusters."""
    out: list[tuple[tuple[float, float], list[dict]]] = []
    reach = (CLUSTER_PX * unit) ** 2
    for r in located:
        x, y = _xy(r["gps"]["lon"], r["gps"]["lat"])
        for (cx, cy), members in out:
            if (x - cx) ** 2 + (y - cy) ** 2 <= reach:
                members.append(r)
                break
        else:
            out.append(((x, y), [r]))
    return [m for _, m in out]


def _zoom_get(map_url: str, box: Box) -> dict:
    sep = "&" if "?" in map_url else "?"
    return {
        "hx_get": f"{map_url}{sep}bbox=" + ",".join(f"{v:.5f}" for v in box),
        "hx_target": "#results-map",
        "hx_swap": "outerHTML",
    }


def Marker(r: dict, query: str, unit: float, at: tuple[float, float] | None = None) -> Any:
    """A picture (at: where it is drawn when spread around a spot it shares with others)."""
    x, y = at or _xy(r["gps"]["lon"], r["gps"]["lat"])
    url = f"/preview?id={r['id']}" + (f"&q={quote(query)}" if query else "")
    return ft_hx(
        "circle",
        Title(PurePath(r["path"]).name),
        cx=f"{x:.4f}",
        cy=f"{y:.4f}",
        r=f"{7 * unit:.4f}",
        cls="map-marker fill-sky-600 stroke-white cursor-pointer",
        stroke_width="1.5",
        vector_effect="non-scaling-stroke",
        hx_get=url,
        hx_target="#modal-slot",
        hx_swap="innerHTML",
        data_id=str(r["id"]),
    )


def Spread(members: list[dict], query: str, unit: float) -> Any:
    """Pictures taken at one spot, at the closest zoom: spread on a ring around it, each its own marker."""
    x, y = _xy(members[0]["gps"]["lon"], members[0]["gps"]["lat"])
    radius = (14 + 2 * len(members)) * unit
    ring = [
        (x + radius * math.cos(2 * math.pi * i / len(members)), y + radius * math.sin(2 * math.pi * i / len(members)))
        for i in range(len(members))
    ]
    return ft_hx(
        "g",
        *[ft_hx("line", x1=f"{x:.5f}", y1=f"{y:.5f}", x2=f"{a:.5f}", y2=f"{b:.5f}", cls="stroke-slate-500",
                stroke_width="1", vector_effect="non-scaling-stroke") for a, b in ring],
        *[Marker(m, query, unit, at) for m, at in zip(members, ring, strict=True)],
        cls="map-spread",
    )  # fmt: skip


def Cluster(members: list[dict], unit: float, map_url: str) -> Any:
    """Several pictures close together: a disc with their count; a click zooms to them, where they split."""
    xs = [_xy(m["gps"]["lon"], m["gps"]["lat"]) for m in members]
    x, y = sum(p[0] for p in xs) / len(xs), sum(p[1] for p in xs) / len(xs)
    radius = (11 + 3 * min(len(members), 100) ** 0.5) * unit
    return ft_hx(
        "g",
        Title(f"{len(members)} pictures: zoom in"),
        ft_hx("circle", cx=f"{x:.4f}", cy=f"{y:.4f}", r=f"{radius:.4f}", fill="#0284c7", fill_opacity="0.9",
              stroke="#fff", stroke_width="2", vector_effect="non-scaling-stroke"),
        ft_hx("text", str(len(members)), x=f"{x:.4f}", y=f"{y:.4f}", font_size=f"{12 * unit:.4f}",
              text_anchor="middle", dominant_baseline="central", fill="#fff", font_weight="600", pointer_events="none"),
        cls="map-cluster cursor-pointer",
        data_count=str(len(members)),
        role="button",
        **_zoom_get(map_url, extent(members)),
    )  # fmt: skip


def zoomed_out(box: Box, factor: float = 3.0) -> Box:
    """The same centre, `factor` times as wide and high, within the world."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) * factor / 2, (box[3] - box[1]) * factor / 2
    return max(cx - hw, -180), max(cy - hh, -90), min(cx + hw, 180), min(cy + hh, 90)


def MapButton(label: str, cls: str, get: dict) -> Any:
    return Button(label, type="button", cls=f"uk-btn uk-btn-default uk-btn-xs {cls}", **get)


def ResultsMap(records: list[dict], query: str = "", box: Box | None = None, map_url: str = "") -> Any:
    """The results with GPS on the world's outlines, zoomed to their extent (or to `box`), near ones clustered
    with a count; a cluster zooms in (map_url: where this map is asked for again, with another box)."""
    located = [r for r in records if r.get("gps")]
    box = box or (extent(located) if located else (-180.0, -90.0, 180.0, 90.0))
    vx, vy, vw, vh = view_box(box)
    unit = vw / W  # map units per pixel of a map drawn 960 px wide
    in_view = [r for r in located if vx <= _xy(r["gps"]["lon"], r["gps"]["lat"])[0] <= vx + vw
               and vy <= _xy(r["gps"]["lon"], r["gps"]["lat"])[1] <= vy + vh]  # fmt: skip
    groups = clusters(in_view, unit)
    closest = box[2] - box[0] <= MIN_SPAN_DEG * 1.5  # no zooming further: a cluster is spread out instead
    marks = [
        Marker(g[0], query, unit) if len(g) == 1 else Spread(g, query, unit) if closest else Cluster(g, unit, map_url)
        for g in groups
    ]
    controls = (
        Div(
            MapButton("Fit all", "map-fit", _zoom_get(map_url, extent(located))),
            MapButton("Zoom out", "map-out", _zoom_get(map_url, zoomed_out(box))),
            cls="flex gap-2",
        )
        if map_url and located
        else ""
    )
    return Div(
        Svg(
            SvgPath(
                d=country_paths(),
                cls="fill-slate-200 stroke-slate-400",
                stroke_width="0.6",
                vector_effect="non-scaling-stroke",
            ),
            *marks,
            viewBox=f"{vx:.4f} {vy:.4f} {vw:.4f} {vh:.4f}",
            cls="w-full h-auto rounded-md bg-sky-50",
            id="map-svg",
            role="img",
            aria_label=f"Map of {len(located)} results with a GPS position",
            data_box=",".join(f"{v:.5f}" for v in box),
        ),  # fmt: skip
        DivFullySpaced(
            P(f"{len(located)} of {len(records)} results have a GPS position", cls="text-xs text-muted-foreground"),
            controls,
        ),
        id="results-map",
        cls="space-y-1",
    )


def parse_box(text: str) -> Box | None:
    """'lon0,lat0,lon1,lat1' from a request; a bad one is a ValueError that says what is expected."""
    if not text.strip():
        return None
    try:
        lon0, lat0, lon1, lat1 = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"bbox must be west,south,east,north in degrees, got {text[:60]!r}") from None
    if not (-180 <= lon0 < lon1 <= 180 and -90 <= lat0 < lat1 <= 90):
        raise ValueError(f"bbox must be west,south,east,north with west < east and south < north, got {text[:60]!r}")
    return lon0, lat0, lon1, lat1
