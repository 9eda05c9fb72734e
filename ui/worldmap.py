"""An offline world map: Natural Earth country outlines (world-atlas, vendored from npm) drawn as SVG on the
server, with a marker per result that has GPS. Equirectangular: x from longitude, y from latitude."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from fasthtml.common import Div, P, ft_hx
from fasthtml.svg import Path as SvgPath
from fasthtml.svg import Svg, Title

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


def ResultsMap(records: list[dict], query: str = "") -> Any:
    located = [r for r in records if r.get("gps")]
    markers = []
    for r in located:
        x, y = _xy(r["gps"]["lon"], r["gps"]["lat"])
        url = f"/preview?id={r['id']}" + (f"&q={quote(query)}" if query else "")
        markers.append(
            ft_hx(
                "circle",
                Title(PurePath(r["path"]).name),
                cx=f"{x:.1f}",
                cy=f"{y:.1f}",
                r="5",
                cls="map-marker fill-sky-600 stroke-white cursor-pointer",
                stroke_width="1.5",
                hx_get=url,
                hx_target="#modal-slot",
                hx_swap="innerHTML",
                data_id=str(r["id"]),
            )
        )
    return Div(
        Svg(
            SvgPath(d=country_paths(), cls="fill-slate-200 stroke-slate-400", stroke_width="0.4"),
            *markers,
            viewBox=f"0 0 {W} {H}",
            cls="w-full h-auto rounded-md bg-sky-50",
            id="map-svg",
            role="img",
            aria_label=f"Map of {len(located)} results with a GPS position",
        ),
        P(f"{len(located)} of {len(records)} results have a GPS position", cls="text-xs text-muted-foreground"),
        id="results-map",
        cls="space-y-1",
    )
