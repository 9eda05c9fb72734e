"""RAW pictures (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, ...) through LibRaw (rawpy).

The camera's embedded JPEG preview is used when it is at least the size the models and the thumbnail need:
it is the camera's own rendering and decodes in milliseconds, where demosaicing takes about a second. Without
one, LibRaw demosaics at half size (one pixel per Bayer quad) with the camera's white balance, into sRGB.
Either way the picture is turned by the RAW's orientation (LibRaw's flip), applied once, here.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from indexing.colour import to_srgb
from indexing.decoded import TRANSPOSE, Decoded, ImageError, guard
from indexing.exif import read_exif

_FLIP_TO_EXIF = {0: 1, 3: 3, 5: 8, 6: 6}  # LibRaw's sizes.flip -> EXIF orientation


def decode_raw(source: bytes | str | Path, *, min_side: int, min_long: int, max_pixels: int) -> Decoded:
    import rawpy

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    exif = read_exif(io.BytesIO(data))
    notes: list[str] = []
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            s = raw.sizes
            w, h = int(s.width), int(s.height)
            guard(w, h, "RGB", len(data), max_pixels)
            code = _FLIP_TO_EXIF.get(int(s.flip), 1)
            img, how = _preview(raw, w, h, min_side, min_long), "embedded preview"
            if img is None:
                rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8, user_flip=0)
                img, how = Image.fromarray(rgb), "demosaiced by LibRaw"
    except ImageError:
        raise
    except (rawpy.LibRawError, OSError, ValueError) as e:
        msg = str(e).strip("b'\"") or type(e).__name__
        raise ImageError(f"RAW file LibRaw cannot decode: {msg}") from e
    factor = min(min(img.size) // max(min_side, 1), max(img.size) // max(min_side, min_long, 1))
    if factor >= 2:
        img = img.reduce(factor)
    img = to_srgb(img, None, notes)
    if code in TRANSPOSE:
        img = img.transpose(TRANSPOSE[code])
        if code >= 5:
            w, h = h, w
    notes.append(f"RAW: {how}")
    return Decoded(img, w, h, "RAW", exif, None, code, "RAW" if code != 1 else None, notes)


def _preview(raw: object, w: int, h: int, min_side: int, min_long: int) -> Image.Image | None:
    """The embedded preview, if it shows the whole frame (same aspect) at least at the size needed."""
    import rawpy

    try:
        thumb = raw.extract_thumb()  # type: ignore[attr-defined]
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError, rawpy.LibRawError):
        return None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            img = Image.open(io.BytesIO(thumb.data))
            pw, ph = img.size
            long_need = max(min_side, min_long)
            img.draft("RGB", (long_need, min_side) if pw >= ph else (min_side, long_need))
        else:
            img = Image.fromarray(thumb.data)
            pw, ph = img.size
        if min(pw, ph) < min_side or max(pw, ph) < min_long or abs(pw / ph - w / h) > 0.03 * (w / h):
            return None
        img.load()
        return img.convert("RGB")
    except (OSError, ValueError, ZeroDivisionError):
        return None


def probe_raw(source: bytes | str | Path, *, max_pixels: int) -> Decoded:
    """A RAW's size, orientation and EXIF, without unpacking its pixels."""
    import rawpy

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            w, h, code = int(raw.sizes.width), int(raw.sizes.height), _FLIP_TO_EXIF.get(int(raw.sizes.flip), 1)
    except (rawpy.LibRawError, OSError, ValueError) as e:
        raise ImageError(f"RAW file LibRaw cannot read: {e}") from e
    if code >= 5:
        w, h = h, w
    return Decoded(
        Image.new("RGB", (1, 1)), w, h, "RAW", read_exif(io.BytesIO(data)), None, code, "RAW" if code != 1 else None
    )
