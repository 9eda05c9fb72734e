"""Decoding: one read per file, JPEG draft-mode downscaling, EXIF orientation, a bomb guard, thumbnails."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from indexing.exif import ExifInfo, read_exif

try:  # HEIC/HEIF support is an optional plugin; without it those files are reported as unsupported
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass

warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit decides, see decode()

# EXIF orientation -> the transpose that shows the image upright
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageError(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


@dataclass
class Decoded:
    image: Image.Image  # RGB, upright, downscaled to about `min_side` on its short side
    width: int  # full size as displayed (after orientation)
    height: int
    format: str
    exif: ExifInfo


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))  # transparent areas on white, not black
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return ImageOps.autocontrast(img.convert("I").point(lambda v: v / 256).convert("L")).convert("RGB")
    return img.convert("RGB")


def decode(data: bytes, *, min_side: int, max_pixels: int, min_long: int = 0) -> Decoded:
    """Decode so that the short side is at least `min_side` and the long side at least `min_long`
    (or the full size where the image is smaller): as little pixel work as those two needs allow."""
    exif = read_exif(io.BytesIO(data))
    try:
        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > max_pixels:
            raise ImageError(f"refused: {w}x{h} = {w * h / 1e6:.0f} MP exceeds the {max_pixels / 1e6:.0f} MP limit")
        fmt = img.format or "?"
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        # JPEG only: decode at 1/2, 1/4 or 1/8 scale straight from the DCT, still meeting both needs
        long_need = max(min_side, min_long)
        img.draft("RGB", (long_need, min_side) if w >= h else (min_side, long_need))
        img.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageError(f"refused as a decompression bomb: {e}") from e
    except UnidentifiedImageError as e:
        raise ImageError("not a supported image format") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:  # truncated or corrupt data
        raise ImageError(f"corrupt or truncated image: {e}") from e
    img = _to_rgb(img)
    factor = min(min(img.size) // min_side, max(img.size) // max(min_side, min_long, 1))
    if factor >= 2:  # cheap box reduction first, so later resizes are small
        img = img.reduce(factor)
    if exif.orientation in _TRANSPOSE:
        img = img.transpose(_TRANSPOSE[exif.orientation])
        if exif.orientation >= 5:
            w, h = h, w
    return Decoded(img, w, h, fmt, exif)


def thumbnail_bytes(img: Image.Image, size: int, quality: int = 80) -> bytes:
    thumb = img.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    thumb.save(buf, "WEBP", quality=quality, method=2)  # method 4+ costs 2x the time for ~5% smaller files
    return buf.getvalue()


def preview_bytes(data: bytes, size: int, max_pixels: int) -> bytes:
    """The upright image for the modal, at most `size` on its long side, as JPEG."""
    dec = decode(data, min_side=1, min_long=size, max_pixels=max_pixels)
    img = dec.image
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()
