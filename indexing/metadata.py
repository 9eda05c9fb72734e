"""One picture's metadata from its EXIF, its embedded XMP and its XMP sidecars, with where each value came from.

EXIF wins where it has a value; otherwise a sidecar (the user's edits in darktable, Lightroom or digiKam),
then the embedded XMP. The UTC offset of the time taken comes from EXIF OffsetTimeOriginal, an XMP date
that carries one, or the difference between the camera's clock and GPS time (UTC), rounded to 15 minutes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from indexing.exif import ExifInfo
from indexing.schema import UNDATED
from indexing.xmp import XmpError, XmpInfo, parse_packet, read_sidecar

MAX_GPS_CLOCK_GAP = timedelta(hours=14, minutes=30)  # farther apart, GPS time says nothing about the zone


@dataclass
class Metadata:
    taken_at: str | None = None  # ISO 8601 local time as taken (no offset)
    offset: str | None = None  # "+02:00"
    make: str | None = None
    model: str | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    rating: int | None = None
    title: str | None = None
    description: str | None = None
    keywords: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # field -> "EXIF", "XMP sidecar X.xmp", ...
    notes: list[str] = field(default_factory=list)

    @property
    def taken_utc(self) -> float | None:
        """Unix seconds, where the offset is known."""
        if not self.taken_at or not self.offset:
            return None
        return utc_seconds(self.taken_at, self.offset)

    @property
    def taken_sort(self) -> float:
        """The timeline's key: UTC seconds, the local time read as UTC without an offset, UNDATED without a date."""
        if not self.taken_at:
            return UNDATED
        return self.taken_utc if self.taken_utc is not None else utc_seconds(self.taken_at, "+00:00")

    def columns(self) -> dict:
        """The catalog's columns for these values."""
        return {
            "taken_at": self.taken_at,
            "taken_offset": self.offset,
            "taken_utc": self.taken_utc,
            "taken_sort": self.taken_sort,
            "camera_make": self.make,
            "camera_model": self.model,
            "gps_lat": self.lat,
            "gps_lon": self.lon,
            "gps_alt": self.alt,
            "rating": self.rating,
            "title": self.title,
            "description": self.description,
            "keywords": json.dumps(self.keywords, ensure_ascii=False) if self.keywords else None,
            "sources": json.dumps(self.sources) if self.sources else None,
        }


def utc_seconds(local_iso: str, offset: str) -> float:
    sign = -1 if offset.startswith("-") else 1
    hh, mm = offset[1:].split(":")
    tz = timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
    return datetime.fromisoformat(local_iso).replace(tzinfo=tz).timestamp()


def _gps_offset(local_iso: str, gps_utc: datetime) -> str | None:
    gap = datetime.fromisoformat(local_iso) - gps_utc
    if abs(gap) > MAX_GPS_CLOCK_GAP:
        return None
    quarters = round(gap.total_seconds() / 900)
    sign = "-" if quarters < 0 else "+"
    q = abs(quarters)
    return f"{sign}{q // 4:02d}:{(q % 4) * 15:02d}"


def merge(exif: ExifInfo, embedded_xmp: bytes | None = None, sidecars: tuple[str, ...] = ()) -> Metadata:
    md = Metadata(notes=list(exif.notes))
    xmps: list[tuple[str, XmpInfo]] = []
    for p in sidecars:
        try:
            xmps.append((f"XMP sidecar {Path(p).name}", read_sidecar(p)))
        except XmpError as e:
            md.notes.append(str(e))
    if embedded_xmp:
        try:
            xmps.append(("XMP (embedded)", parse_packet(embedded_xmp)))
        except XmpError as e:
            md.notes.append(f"embedded {e}")
    for _, x in xmps:
        md.notes.extend(x.notes)

    def pick(name: str, exif_value: object, xmp_attr: str | None = None) -> object:
        if exif_value not in (None, [], ""):
            md.sources[name] = "EXIF"
            return exif_value
        for where, x in xmps:
            v = getattr(x, xmp_attr or name)
            if v not in (None, [], ""):
                md.sources[name] = where
                return v
        return None

    md.taken_at = pick("taken_at", exif.taken_at)  # type: ignore[assignment]
    if md.taken_at:
        if md.sources.get("taken_at") == "EXIF" and exif.offset:
            md.offset, md.sources["offset"] = exif.offset, "EXIF OffsetTimeOriginal"
        elif md.sources.get("taken_at", "").startswith("XMP"):
            x = next(x for w, x in xmps if w == md.sources["taken_at"])
            if x.offset:
                md.offset, md.sources["offset"] = x.offset, md.sources["taken_at"]
        if md.offset is None and exif.gps_utc is not None:
            md.offset = _gps_offset(md.taken_at, exif.gps_utc)
            if md.offset:
                md.sources["offset"] = "GPS time"
            else:
                md.notes.append("GPS time is too far from the camera's clock to tell its time zone")
    if exif.lat is not None:
        md.lat, md.lon, md.alt, md.sources["gps"] = exif.lat, exif.lon, exif.alt, "EXIF"
    else:
        for where, x in xmps:
            if x.lat is not None:
                md.lat, md.lon, md.alt, md.sources["gps"] = x.lat, x.lon, x.alt, where
                break
    if exif.make or exif.model:
        md.make, md.model, md.sources["camera"] = exif.make, exif.model, "EXIF"
    else:
        for where, x in xmps:
            if x.make or x.model:
                md.make, md.model, md.sources["camera"] = x.make, x.model, where
                break
    md.rating = pick("rating", exif.rating)  # type: ignore[assignment]
    md.title = pick("title", None)  # type: ignore[assignment]
    md.description = pick("description", None)  # type: ignore[assignment]
    md.keywords = pick("keywords", None) or []  # type: ignore[assignment]
    return md


def span_seconds(frm: str, to: str) -> tuple[float, float]:
    """A span of date prefixes ('2023', '2023-07', '2023-07-14') as UTC seconds, its first moment to its last."""

    def start(p: str) -> datetime:
        y, m, d = (p.split("-") + ["1", "1"])[:3]
        return datetime(int(y), int(m), int(d), tzinfo=timezone.utc)

    def end(p: str) -> datetime:
        n = p.count("-")
        first = start(p)
        if n == 2:
            return first + timedelta(days=1)
        if n == 1:
            return (first + timedelta(days=32)).replace(day=1)
        return first.replace(year=first.year + 1)

    return (start(frm).timestamp() if frm else -1e14, end(to).timestamp() if to else 1e14)
