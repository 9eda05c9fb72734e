"""Thumbnail cache keyed by content hash: a moved file keeps its thumbnail, duplicates share one."""

from __future__ import annotations

from pathlib import Path

from basics import write_atomic


class ThumbCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, content_hash: str) -> Path:
        return self.root / content_hash[:2] / f"{content_hash}.webp"

    def write(self, content_hash: str, data: bytes) -> Path:
        p = self.path(content_hash)
        write_atomic(p, data, fsync=False)  # no fsync: thumbnails are derived, re-rendered if ever lost or torn
        return p

    def read(self, content_hash: str) -> bytes | None:
        try:
            data = self.path(content_hash).read_bytes()
        except OSError:
            return None
        return data if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None

    def remove(self, content_hash: str) -> None:
        try:
            self.path(content_hash).unlink()
        except OSError:
            pass
