"""The catalog's row types: an image's columns as SQLite holds them (ImageRow), what a run's plan needs of a
file already known (Known), and a folder's counts (FolderStats)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from indexing.exif import camera_label

IMAGE_COLUMNS = (
    "id, folder_id, path, size, mtime, hash, status, error, format, width, height, orientation, taken_at, "
    "camera_make, camera_model, gps_lat, gps_lon, gps_alt, notes, indexed_at, "
    "place_city, place_region, place_country_code, place_distance_km, "
    "orientation_applied, taken_offset, taken_utc, rating, title, description, keywords, sources, "
    "companions, sidecars, extra_sig, place_detail, meta_version, taken_sort"
)


@dataclass
class ImageRow:
    id: int
    folder_id: int
    path: str
    size: int
    mtime: float
    hash: str | None
    status: str
    error: str | None
    format: str | None
    width: int | None
    height: int | None
    orientation: int | None
    taken_at: str | None
    camera_make: str | None
    camera_model: str | None
    gps_lat: float | None
    gps_lon: float | None
    gps_alt: float | None
    notes: str | None
    indexed_at: float
    place_city: str | None = None
    place_region: str | None = None
    place_country_code: str | None = None
    place_distance_km: float | None = None
    orientation_applied: int | None = None
    taken_offset: str | None = None
    taken_utc: float | None = None
    rating: int | None = None
    title: str | None = None
    description: str | None = None
    keywords: str | None = None  # JSON list
    sources: str | None = None  # JSON object: field -> where its value came from
    companions: str | None = None  # JSON list: the RAW of a RAW+JPEG pair
    sidecars: str | None = None  # JSON list
    extra_sig: str | None = None
    place_detail: str | None = None
    meta_version: int | None = None
    taken_sort: float | None = None

    @property
    def place(self) -> dict | None:
        if not self.place_country_code:
            return None
        return {
            "city": self.place_city,
            "region": self.place_region,
            "country_code": self.place_country_code,
            "detail": self.place_detail,
        }

    def json_list(self, name: str) -> list:
        v = getattr(self, name)
        return json.loads(v) if v else []

    def json_dict(self, name: str) -> dict:
        v = getattr(self, name)
        return json.loads(v) if v else {}

    @property
    def camera(self) -> str | None:
        return camera_label(self.camera_make, self.camera_model)

    @property
    def gps(self) -> dict | None:
        if self.gps_lat is None or self.gps_lon is None:
            return None
        return {"lat": self.gps_lat, "lon": self.gps_lon, "alt": self.gps_alt}


@dataclass(frozen=True)
class Known:
    id: int
    size: int
    mtime: float
    hash: str | None
    status: str
    extra_sig: str | None = None
    meta_version: int | None = None
    format: str | None = None


@dataclass
class FolderStats:
    id: int
    path: str
    indexed: int
    failed: int
    last_indexed_at: float | None
    last_run: str | None  # complete | running (stopped partway unless a run is on) | None (never run)
