"""The stable JSON shape of an image record and of a hit (documented in README.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from indexing.catalog import ImageRow
from indexing.thumbs import ThumbCache


def taken_at_iso(row: ImageRow) -> str | None:
    """Local time as taken, with its UTC offset where known: '2021-07-14T10:30:00+02:00'."""
    if not row.taken_at:
        return None
    return row.taken_at + (row.taken_offset or "")


def taken_at_utc(row: ImageRow) -> str | None:
    if row.taken_utc is None:
        return None
    return datetime.fromtimestamp(row.taken_utc, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_record(row: ImageRow, thumbs: ThumbCache) -> dict[str, Any]:
    thumb = thumbs.path(row.hash) if row.hash and row.status == "indexed" else None
    return {
        "id": row.id,
        "path": row.path,
        "status": row.status,
        "error": row.error,
        "format": row.format,
        "width": row.width,
        "height": row.height,
        "orientation": row.orientation,
        "orientation_applied": row.orientation_applied,
        "taken_at": taken_at_iso(row),
        "taken_at_utc": taken_at_utc(row),
        "camera": row.camera,
        "gps": row.gps,
        "place": row.place,
        "rating": row.rating,
        "title": row.title,
        "description": row.description,
        "keywords": row.json_list("keywords"),
        "companions": row.json_list("companions"),
        "sidecars": row.json_list("sidecars"),
        "sources": row.json_dict("sources"),
        "thumbnail": str(thumb) if thumb is not None and thumb.exists() else None,
        "notes": row.notes,
    }


def taken_text(rec: dict, mode: str = "taken") -> str:
    """When a record's photo was taken, for people: 'taken' shows the clock where it was taken, with its UTC
    offset ('1 Jun 2024, 18:30 (UTC+02:00)'); 'here' shows the same moment on this computer's clock. Without a
    known offset there is only the camera's clock to show."""
    iso = rec.get("taken_at")
    if not iso:
        return "—"
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is None:
        return f"{t:%d %b %Y, %H:%M} (camera clock, time zone unknown)"
    if mode == "here":
        return f"{t.astimezone():%d %b %Y, %H:%M} (this computer's time, {t.astimezone():%Z})"
    return f"{t:%d %b %Y, %H:%M} (UTC{iso[-6:]})"


ORIENTATION_WORDS = {
    2: "mirrored",
    3: "turned 180°",
    4: "flipped upside down",
    5: "mirrored and turned 90° anticlockwise",
    6: "turned 90° clockwise",
    7: "mirrored and turned 90° clockwise",
    8: "turned 90° anticlockwise",
}


def orientation_text(rec: dict) -> str:
    """What was done to show the picture upright, and on whose word: 'turned 90° clockwise (HEIF container)'."""
    code = rec.get("orientation_applied") or 1
    if code == 1:
        return "as stored"
    return f"{ORIENTATION_WORDS.get(code, str(code))} ({rec.get('sources', {}).get('orientation', 'EXIF')})"


def hit_record(hit: Any, thumbs: ThumbCache) -> dict[str, Any]:
    """A hit (search, similar): its image record, the fused score and each term's and model's share."""
    return {
        **image_record(hit.image, thumbs),
        "score": round(hit.score, 6),
        "match": round(100 * hit.match, 1),
        "contributions": hit.contributions(),
    }
