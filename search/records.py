"""The stable JSON shape of an image record and of a hit (documented in README.md)."""

from __future__ import annotations

from typing import Any

from indexing.catalog import ImageRow
from indexing.thumbs import ThumbCache


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
        "taken_at": row.taken_at,
        "camera": row.camera,
        "gps": row.gps,
        "place": row.place,
        "thumbnail": str(thumb) if thumb is not None and thumb.exists() else None,
        "notes": row.notes,
    }
