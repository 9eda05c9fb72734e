"""Thumbnail and display-rendition cache keyed by content hash: a moved file keeps its thumbnail, duplicates
share one. Renditions (the viewer's 2048 px JPEG) are made on first view, so opening a 12-MP original again
costs a file read, not a decode and a resize.

A thumbnail is WebP (the CPU path: smaller) or JPEG (the GPU path: the GPU's encoder makes it 5x faster than
WebP on all the host's cores, and the host's cores are the GPU path's wall); read() says which by its bytes."""

from __future__ import annotations

from pathlib import Path

from basics import write_atomic

# raised when the decoder's idea of upright or of colour changes, so that no stale rendition is shown
RENDITION_VERSION = 1


def media_type(data: bytes) -> str | None:
    """image/webp or image/jpeg for a whole thumbnail, None for anything else (a torn file is redone)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9":
        return "image/jpeg"
    return None


class ThumbCache:
    def __init__(self, root: Path, renditions: Path | None = None) -> None:
        self.root = Path(root)
        self.renditions = Path(renditions) if renditions is not None else self.root.parent / "renditions"

    def _paths(self, content_hash: str) -> tuple[Path, Path]:
        stem = self.root / content_hash[:2] / content_hash
        return stem.with_suffix(".webp"), stem.with_suffix(".jpg")

    def path(self, content_hash: str) -> Path:
        """The thumbnail's file (the WebP name where there is none yet)."""
        webp, jpeg = self._paths(content_hash)
        return jpeg if not webp.exists() and jpeg.exists() else webp

    def write(self, content_hash: str, data: bytes) -> Path:
        webp, jpeg = self._paths(content_hash)
        p, other = (jpeg, webp) if media_type(data) == "image/jpeg" else (webp, jpeg)
        write_atomic(p, data, fsync=False)  # no fsync: thumbnails are derived, re-rendered if ever lost or torn
        other.unlink(missing_ok=True)  # a redrawn thumbnail replaces the other kind
        return p

    def read(self, content_hash: str) -> bytes | None:
        for p in self._paths(content_hash):
            try:
                data = p.read_bytes()
            except OSError:
                continue
            if media_type(data) is not None:
                return data
        return None

    def rendition_path(self, content_hash: str, size: int) -> Path:
        return self.renditions / content_hash[:2] / f"{content_hash}-{size}-v{RENDITION_VERSION}.jpg"

    def read_rendition(self, content_hash: str, size: int) -> bytes | None:
        try:
            data = self.rendition_path(content_hash, size).read_bytes()
        except OSError:
            return None
        return data if data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9" else None  # a torn one is redone

    def write_rendition(self, content_hash: str, size: int, data: bytes) -> None:
        write_atomic(self.rendition_path(content_hash, size), data, fsync=False)

    def remove(self, content_hash: str) -> None:
        """The thumbnail and every rendition of a content no image has any more."""
        for p in [*self._paths(content_hash), *self.renditions.glob(f"{content_hash[:2]}/{content_hash}-*.jpg")]:
            try:
                p.unlink()
            except OSError:
                pass
