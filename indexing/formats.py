"""What a file is, by its name: a picture (decoded by Pillow and its plugins), a RAW picture (LibRaw), or one
of the files that phones and cameras write beside pictures (videos, Live Photo movies, edit files, XMP
sidecars), which are skipped and counted, never reported as broken images."""

from __future__ import annotations

import os
from enum import Enum


class Kind(str, Enum):
    IMAGE = "image"
    RAW = "raw"
    VIDEO = "video"
    LIVE_PHOTO = "live photo video"  # the .MOV beside a HEIC/JPEG of the same name
    SIDECAR = "sidecar"
    EDIT = "edit file"
    OTHER = "other"


IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif",
        ".heic", ".heif", ".hif", ".avif", ".jp2", ".j2k", ".jpf", ".jpx",
    }
)  # fmt: skip
# LibRaw reads these; the test suite covers DNG, CR2, CR3, NEF, RAF and RW2 (README: which are tested)
RAW_EXTENSIONS = frozenset(
    {
        ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2",
        ".pef", ".srw", ".x3f", ".3fr", ".iiq", ".erf", ".mrw", ".rwl", ".kdc", ".dcr", ".mos",
    }
)  # fmt: skip
VIDEO_EXTENSIONS = frozenset(
    {
        ".mov", ".mp4", ".m4v", ".avi", ".mkv", ".mts", ".m2ts", ".3gp", ".webm", ".wmv", ".mpg", ".mpeg",
        ".insv", ".lrv", ".mxf",
    }
)  # fmt: skip
SIDECAR_EXTENSIONS = frozenset({".xmp", ".thm", ".pp3", ".dop", ".on1"})
EDIT_EXTENSIONS = frozenset({".aae"})
# the picture of a RAW+JPEG pair that is decoded (the camera's own rendering, and a fast decode)
PAIR_PRIMARY_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".hif"})


def kind_of(name: str) -> Kind:
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return Kind.IMAGE
    if ext in RAW_EXTENSIONS:
        return Kind.RAW
    if ext in VIDEO_EXTENSIONS:
        return Kind.VIDEO
    if ext in SIDECAR_EXTENSIONS:
        return Kind.SIDECAR
    if ext in EDIT_EXTENSIONS:
        return Kind.EDIT
    return Kind.OTHER


def is_raw(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in RAW_EXTENSIONS
