"""EXIF with exifread: date taken and its UTC offset, GPS time, camera, orientation, GPS. Missing or malformed
tags are not errors.

Where the EXIF lives differs by format: JPEG, TIFF and the TIFF-based RAWs (DNG, CR2, NEF, ARW, ORF, RW2,
PEF) are read from the file; HEIF, AVIF, PNG and WebP from the EXIF block their decoder hands over; Canon
CR3 from the TIFF blocks of its CMT boxes; Fujifilm RAF from its embedded JPEG.
"""

from __future__ import annotations

import io
import logging
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import exifread
from exifread.tags.exif import GPS_TAGS

log = logging.getLogger(__name__)
logging.getLogger("exifread").setLevel(logging.ERROR)  # it logs every odd tag as a warning


@dataclass
class ExifInfo:
    taken_at: str | None = None  # ISO 8601, local time as the camera wrote it
    offset: str | None = None  # the camera's UTC offset for taken_at, "+02:00" (OffsetTimeOriginal)
    gps_utc: datetime | None = None  # GPSDateStamp + GPSTimeStamp: when the fix was taken, in UTC
    make: str | None = None
    model: str | None = None
    orientation: int | None = None  # the EXIF tag's value, 1..8, None when absent
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    rating: int | None = None
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


_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def parse_offset(s: str | None) -> str | None:
    """'+02:00', '-0530' -> '+02:00', '-05:30'; None for anything that is not a real UTC offset."""
    m = _OFFSET.match((s or "").strip())
    if not m:
        return None
    sign, h, mi = m.groups()
    if int(h) > 14 or int(mi) >= 60:
        return None
    return f"{sign}{h}:{mi}"


def parse_tags(tags: dict) -> ExifInfo:
    info = ExifInfo()
    original = _text(tags, "EXIF DateTimeOriginal")
    info.taken_at = _parse_date(original or _text(tags, "Image DateTime"))
    if info.taken_at:
        info.offset = parse_offset(
            _text(tags, "EXIF OffsetTimeOriginal") if original else _text(tags, "EXIF OffsetTime")
        ) or parse_offset(_text(tags, "EXIF OffsetTime"))
    info.make = _text(tags, "Image Make")
    info.model = _text(tags, "Image Model")
    o = tags.get("Image Orientation")
    if o is not None:
        try:
            val = int(o.values[0])
            info.orientation = val if 1 <= val <= 8 else None
        except (IndexError, TypeError, ValueError):
            info.notes.append("orientation unreadable")
    r = tags.get("Image Rating")
    if r is not None:
        try:
            info.rating = int(r.values[0]) if 0 <= int(r.values[0]) <= 5 else None
        except (IndexError, TypeError, ValueError):
            pass
    _parse_gps(tags, info)
    _parse_gps_time(tags, info)
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


def _parse_gps_time(tags: dict, info: ExifInfo) -> None:
    date, time_t = _text(tags, "GPS GPSDate"), tags.get("GPS GPSTimeStamp")
    if not date or time_t is None:
        return
    try:
        h, m, s = (_ratio(v) for v in list(time_t.values)[:3])
        day = datetime.strptime(date.strip()[:10].replace("-", ":"), "%Y:%m:%d")
        info.gps_utc = day.replace(hour=int(h), minute=int(m), second=int(s))
    except (ValueError, ZeroDivisionError, TypeError):
        info.notes.append("GPS time unreadable")


def read_exif(f: BinaryIO) -> ExifInfo:
    """EXIF of a file: CR3 and RAF by their own layout, everything else through exifread."""
    head = f.read(16)
    f.seek(0)
    try:
        if head[4:12] == b"ftypcrx ":
            return read_cr3_exif(f.read())
        if head.startswith(b"FUJIFILMCCD-RAW"):
            return read_raf_exif(f.read())
        tags = exifread.process_file(f, details=False)
    except Exception as e:  # noqa: BLE001 - exifread raises many types on odd files; EXIF is optional
        return ExifInfo(notes=[f"EXIF unreadable: {type(e).__name__}"])
    return parse_tags(tags)


def exif_from_blob(blob: bytes) -> ExifInfo:
    """EXIF from the block a decoder hands over (HEIF, AVIF, PNG eXIf, WebP): a TIFF stream, maybe behind
    'Exif\\0\\0' (and, in HEIF, a 4-byte offset to it)."""
    i = blob.find(b"Exif\x00\x00", 0, 16)
    tiff = blob[i + 6 :] if i >= 0 else blob
    if tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return ExifInfo(notes=["EXIF unreadable: no TIFF header"])
    try:
        tags = exifread.process_file(io.BytesIO(tiff), details=False)
    except Exception as e:  # noqa: BLE001 - see read_exif
        return ExifInfo(notes=[f"EXIF unreadable: {type(e).__name__}"])
    return parse_tags(tags)


def _boxes(b: bytes, start: int, end: int):  # noqa: ANN202 - ISO BMFF boxes: (type, payload start, end)
    i = start
    while i + 8 <= end:
        size, typ = struct.unpack(">I4s", b[i : i + 8])
        hdr = 8
        if size == 1:
            size, hdr = struct.unpack(">Q", b[i + 8 : i + 16])[0], 16
        elif size == 0:
            size = end - i
        if size < hdr or i + size > end:
            return
        yield typ, i + hdr, i + size
        i += size


CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")


def read_cr3_exif(data: bytes) -> ExifInfo:
    """Canon CR3 keeps IFD0 (CMT1), the Exif IFD (CMT2) and the GPS IFD (CMT4) as separate TIFF streams inside
    moov/uuid; each is parsed as its own TIFF and its tags renamed to what they are."""
    tags: dict[str, Any] = {}
    for typ, s, e in _boxes(data, 0, len(data)):
        if typ != b"moov":
            continue
        for t2, s2, e2 in _boxes(data, s, e):
            if t2 != b"uuid" or data[s2 : s2 + 16] != CANON_UUID:
                continue
            for t3, s3, e3 in _boxes(data, s2 + 16, e2):
                if t3 not in (b"CMT1", b"CMT2", b"CMT4"):
                    continue
                part = exifread.process_file(io.BytesIO(data[s3:e3]), details=False)
                for k, v in part.items():
                    if t3 == b"CMT1":
                        tags[k] = v
                    elif t3 == b"CMT2":
                        tags["EXIF " + k.removeprefix("Image ")] = v
                    else:  # GPS tags arrive under IFD0's numbering: rename them by their GPS tag id
                        gid = getattr(v, "tag", None)
                        name = GPS_TAGS.get(gid, (None,))[0] if gid is not None else None
                        if name:
                            tags[f"GPS {name}"] = v
    return parse_tags(tags)


def read_raf_exif(data: bytes) -> ExifInfo:
    """Fujifilm RAF: the header points at a full JPEG (offset at byte 84, length at 88) that carries the EXIF."""
    off, length = struct.unpack(">II", data[84:92])
    if not (0 < off < len(data) and length > 0):
        return ExifInfo(notes=["EXIF unreadable: RAF header"])
    return parse_tags(exifread.process_file(io.BytesIO(data[off : off + length]), details=False))
