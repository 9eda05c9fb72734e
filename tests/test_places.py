"""The offline gazetteer and places at index time."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.places import GAZETTEER
from services import StyleSeek
from settings import Settings
from tests.imagegen import pattern, save_jpeg


@pytest.mark.parametrize(
    ("lat", "lon", "cc"),
    [
        (47.3769, 8.5417, "CH"),  # north-east
        (-33.8688, 151.2093, "AU"),  # south-east
        (-22.9068, -43.1729, "BR"),  # south-west
        (40.7128, -74.0060, "US"),  # north-west
        (64.1466, -21.9426, "IS"),  # far north, where degrees of longitude are short
    ],
)
def test_reverse_geocoding_in_all_hemispheres(lat: float, lon: float, cc: str) -> None:
    (p,) = GAZETTEER.nearest([(lat, lon)])
    assert p.country_code == cc and p.distance_km < 15


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    from math import asin, cos, radians, sin, sqrt

    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    h = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * 6371.0088 * asin(sqrt(h))


def test_the_antimeridian_is_no_edge() -> None:
    # Chukotka at 179.95°E: the nearest town, Egvekinot, lies across the line at 179.12°W (about 40 km);
    # in plain lat/lon it would look 359° away and Beringovskiy (about 360 km) would win
    (p,) = GAZETTEER.nearest([(66.32321, 179.95)])
    assert p.city == "Egvekinot" and p.lon < -179
    assert p.distance_km == pytest.approx(haversine_km(66.32321, 179.95, p.lat, p.lon), rel=1e-3)
    assert p.distance_km < 50


def test_places_are_stored_at_index_time_and_backfilled(tmp_path: Path, settings: Settings, shared_encoder) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    a = save_jpeg(lib / "sydney.jpg", pattern(60, 40, 1), gps=(-33.8688, 151.2093, None))
    save_jpeg(lib / "nogps.jpg", pattern(60, 40, 2))
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    svc.index_folders([lib])
    row = svc.catalog.get_by_path(str(a))
    assert row.place == {"city": "Sydney", "region": "New South Wales", "country_code": "AU"}
    assert svc.catalog.get_by_path(str(lib / "nogps.jpg")).place is None
    # a catalog from before the gazetteer: the next run fills the place in, without re-embedding anything
    with svc.catalog.transaction() as t:
        t.execute("UPDATE images SET place_city=NULL, place_region=NULL, place_country_code=NULL")
    assert [r[0] for r in svc.catalog.lacking_place()] == [row.id]
    r = svc.index_folders([lib])
    assert r.indexed == 0 and r.unchanged == 2
    assert svc.catalog.get(row.id).place["country_code"] == "AU" and svc.catalog.lacking_place() == []
