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
