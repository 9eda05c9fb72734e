"""Recursive folder walk: the pictures to index, each with the files that belong to it (the RAW of a RAW+JPEG
pair, XMP sidecars), and a count of what was skipped (videos, Live Photo movies, edit files, other files).
Hidden entries are skipped, symlink cycles cut."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from indexing.formats import PAIR_PRIMARY_EXTENSIONS, Kind, kind_of


@dataclass(frozen=True)
class FileEntry:
    path: str  # absolute, symlinks in folders kept as walked (the path the user sees)
    size: int
    mtime: float
    companions: tuple[str, ...] = ()  # the RAW of a RAW+JPEG pair (the same shot, indexed once)
    sidecars: tuple[str, ...] = ()  # XMP sidecars: IMG_1234.xmp, IMG_1234.CR2.xmp, IMG_1234.jpg.xmp
    extra_sig: str | None = None  # changes when a companion or sidecar is added, edited or removed

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.companions)


@dataclass
class _File:
    path: str
    name: str
    size: int
    mtime: float


def _signature(files: list[_File]) -> str | None:
    if not files:
        return None
    h = hashlib.blake2b(digest_size=8)
    for f in sorted(files, key=lambda f: f.name):
        h.update(f"{f.name}\0{f.size}\0{f.mtime!r}\n".encode())
    return h.hexdigest()


def _group(files: list[_File], skipped: Counter) -> Iterator[FileEntry]:
    """One folder's files as pictures. Names compare case-insensitively, as cameras and phones vary."""
    stems: dict[str, list[_File]] = {}
    sidecars: dict[str, list[_File]] = {}  # by the name (or stem) they describe
    for f in files:
        k = kind_of(f.name)
        if k == Kind.SIDECAR and f.name.lower().endswith(".xmp"):
            sidecars.setdefault(os.path.splitext(f.name)[0].lower(), []).append(f)
            skipped[Kind.SIDECAR.value] += 1
        elif k in (Kind.IMAGE, Kind.RAW, Kind.VIDEO):
            stems.setdefault(os.path.splitext(f.name)[0].lower(), []).append(f)
        else:
            skipped[k.value] += 1
    for stem, group in stems.items():
        images = [f for f in group if kind_of(f.name) == Kind.IMAGE]
        raws = [f for f in group if kind_of(f.name) == Kind.RAW]
        for _ in (f for f in group if kind_of(f.name) == Kind.VIDEO):
            skipped[(Kind.LIVE_PHOTO if images or raws else Kind.VIDEO).value] += 1
        primaries = [f for f in images if os.path.splitext(f.name)[1].lower() in PAIR_PRIMARY_EXTENSIONS]
        paired: dict[str, list[_File]] = {}
        if raws and len(primaries) == 1:  # RAW+JPEG of one shot: one picture, the JPEG decoded
            paired[primaries[0].path] = raws
            raws = []
        for f in images + raws:
            comps = paired.get(f.path, [])
            cars = [*sidecars.get(stem, []), *(c for x in (f, *comps) for c in sidecars.get(x.name.lower(), []))]
            yield FileEntry(
                f.path,
                f.size,
                f.mtime,
                tuple(c.path for c in comps),
                tuple(dict.fromkeys(c.path for c in cars)),
                _signature(comps + cars),
            )


def iter_image_files(root: Path, skipped: Counter | None = None) -> Iterator[FileEntry]:
    """The pictures under root, in a stable order. `skipped` counts the files that are not pictures, by kind."""
    skipped = Counter() if skipped is None else skipped
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
        files: list[_File] = []
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                if e.is_dir(follow_symlinks=True):
                    subdirs.append(e.path)
                elif e.is_file(follow_symlinks=True):
                    fst = e.stat(follow_symlinks=True)
                    files.append(_File(e.path, e.name, fst.st_size, fst.st_mtime))
            except OSError:
                continue  # a dangling link or a file that vanished mid-walk
        yield from sorted(_group(files, skipped), key=lambda f: f.path)
        stack.extend(reversed(subdirs))
