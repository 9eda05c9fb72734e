"""What a decoder returns, and the rules every decoder shares: the reason a file is refused (ImageError),
the bomb guard, and the transposes that show each EXIF orientation upright."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from indexing.exif import ExifInfo

# EXIF orientation -> the transpose that shows the image upright
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
BOMB_CHECK_PIXELS = 50_000_000  # above this, the expansion from file size to pixels is checked
MAX_EXPANSION = 250  # decoded bytes per file byte; deflate's ceiling is ~1032, real pictures stay far below


class ImageError(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


@dataclass
class Decoded:
    image: Image.Image  # RGB (sRGB), upright, downscaled to about `min_side` on its short side
    width: int  # full size as displayed (after orientation)
    height: int
    format: str
    exif: ExifInfo
    xmp: bytes | None = None  # the embedded XMP packet, if any
    orientation_applied: int = 1  # the transform applied to show it upright, as an EXIF orientation code
    orientation_source: str | None = None  # "EXIF", "HEIF container", "AVIF container", "RAW"
    notes: list[str] = field(default_factory=list)


def bands(mode: str) -> float:
    return {"1": 1 / 8, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4}.get(
        mode, len(mode) if mode.isalpha() else 4
    )


def guard(w: int, h: int, mode: str, file_size: int, max_pixels: int) -> None:
    if w * h > max_pixels:
        raise ImageError(f"refused: {w}x{h} = {w * h / 1e6:.0f} MP exceeds the {max_pixels / 1e6:.0f} MP limit")
    if w * h > BOMB_CHECK_PIXELS and w * h * bands(mode) > MAX_EXPANSION * max(file_size, 1):
        raise ImageError(
            f"refused as a decompression bomb: {w}x{h} = {w * h / 1e6:.0f} MP from a {file_size / 1e6:.1f} MB file"
        )
