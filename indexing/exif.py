"""EXIF with exifread: date taken, camera, orientation, GPS. Missing or malformed tags are not errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import exifread

log = logging.getLogger(__name__)
logging.getLogger("exifread").setLevel(logging.ERROR)  # it logs every odd tag as a warning


@dataclass
class ExifInfo:
    taken_at: str | None = None  # ISO 8601, local time as the camera wrote it
    make: str | None = None
    model: str | None = None
    orientation: int = 1
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def camera(self) -> str | None:
        return camera_label(self.make, self.model)


def camera_label(make: str | None, model: str | None) -> str | None:
    """'Canon' + 'Canon EOS R5' is 'Canon EOS R5', not 'Canon Canon EOS R5'."""
    make, model = (make or "").strip(), (model or "").strip()
    if make and model.lower().startswith(make.lower()):
        return model
    return " ".join(p for p in (make, model) if p) or None


def _ratio(v: Any) -> float:
    num, den = getattr(v, "num", None), getattr(v, "den", None)
    if num is None:
        return float(v)
    if not den:
        raise ZeroDivisionError("zero denominator")
    return float(num) / float(den)


def _dms(tag: Any) -> float:
    vals = list(tag.values)
    if len(vals) != 3:
        raise ValueError(f"expected 3 values, got {len(vals)}")
    d, m, s = (_ratio(v) for v in vals)
    return d + m / 60.0 + s / 3600.0


def _text(tags: dict, name: str) -> str | None:
    tag = tags.get(name)
    if tag is None:
        return None
    s = str(tag.printable if hasattr(tag, "printable") else tag).strip().strip("\x00").strip()
    return s or None


def _parse_date(s: str | None) -> str | None:
    if not s:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M", "%Y:%m:%d"):
        try:
            return datetime.strptime(s[:19], fmt).isoformat()
        except ValueError:
            continue
    return None


def parse_tags(tags: dict) -> ExifInfo:
    info = ExifInfo()
    info.taken_at = _parse_date(_text(tags, "EXIF DateTimeOriginal") or _text(tags, "Image DateTime"))
    info.make = _text(tags, "Image Make")
    info.model = _text(tags, "Image Model")
    o = tags.get("Image Orientation")
    if o is not None:
        try:
            val = int(o.values[0])
            info.orientation = val if 1 <= val <= 8 else 1
        except (IndexError, TypeError, ValueError):
            info.notes.append("orientation unreadable")
    _parse_gps(tags, info)
    return info


def _parse_gps(tags: dict, info: ExifInfo) -> None:
    lat_t, lon_t = tags.get("GPS GPSLatitude"), tags.get("GPS GPSLongitude")
    if lat_t is None or lon_t is None:
        return
    lat_ref = (_text(tags, "GPS GPSLatitudeRef") or "").upper()[:1]
    lon_ref = (_text(tags, "GPS GPSLongitudeRef") or "").upper()[:1]
    try:
        lat, lon = _dms(lat_t), _dms(lon_t)
    except (ValueError, ZeroDivisionError, TypeError) as e:
        info.notes.append(f"GPS unreadable: {e}")
        return
    if lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        info.notes.append(f"GPS ignored: missing or bad hemisphere refs ({lat_ref!r}, {lon_ref!r})")
        return
    lat = -lat if lat_ref == "S" else lat
    lon = -lon if lon_ref == "W" else lon
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        info.notes.append(f"GPS ignored: out of range ({lat:.4f}, {lon:.4f})")
        return
    info.lat, info.lon = round(lat, 7), round(lon, 7)
    alt_t = tags.get("GPS GPSAltitude")
    if alt_t is not None:
        try:
            alt = _ratio(alt_t.values[0])
            ref = tags.get("GPS GPSAltitudeRef")
            if ref is not None and int(ref.values[0]) == 1:  # 1 = below sea level
                alt = -alt
            info.alt = round(alt, 2)
        except (IndexError, TypeError, ValueError, ZeroDivisionError):
            info.notes.append("GPS altitude unreadable")


def read_exif(f: BinaryIO) -> ExifInfo:
    try:
        tags = exifread.process_file(f, details=False)
    except Exception as e:  # noqa: BLE001 - exifread raises many types on odd files; EXIF is optional
        return ExifInfo(notes=[f"EXIF unreadable: {type(e).__name__}"])
    return parse_tags(tags)
