"""Recursive folder walk: supported images only, hidden entries skipped, symlink cycles cut."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif"}
)


@dataclass(frozen=True)
class FileEntry:
    path: str  # absolute, symlinks in folders kept as walked (the path the user sees)
    size: int
    mtime: float


def iter_image_files(root: Path) -> Iterator[FileEntry]:
    root = Path(root).expanduser().absolute()
    seen_dirs: set[tuple[int, int]] = set()
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:  # a symlink cycle or a second link to a folder already walked
            continue
        seen_dirs.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                if e.is_dir(follow_symlinks=True):
                    subdirs.append(e.path)
                elif e.is_file(follow_symlinks=True) and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS:
                    fst = e.stat(follow_symlinks=True)
                    yield FileEntry(e.path, fst.st_size, fst.st_mtime)
            except OSError:
                continue  # a dangling link or a file that vanished mid-walk
        stack.extend(reversed(subdirs))
