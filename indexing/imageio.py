"""Decoding: from bytes or a path to an upright, reduced, 8-bit sRGB picture with its EXIF and embedded XMP.

- Orientation follows the decoder's rules: JPEG, TIFF, PNG and WebP take the EXIF Orientation; HEIF keeps its
  rotation and mirror in the container (irot/imir), which libheif applies while decoding, so the EXIF tag is
  ignored there (applying it too would turn an iPhone portrait sideways); Pillow's AVIF decoder reports the
  container's transform as the orientation, which is applied; RAWs take LibRaw's.
- Reduced decoding: JPEG draft (1/2 to 1/8 from the DCT), JPEG 2000 resolution levels, `Image.reduce`; a
  picture whose full decode would pass `big_bytes` (a 600-MP TIFF or PNG scan) goes through libvips, which
  streams it, or uses a TIFF pyramid, with bounded memory. One such decode runs at a time.
- Bombs: more pixels than `max_pixels`, or an absurd expansion (a tiny file that claims hundreds of
  megapixels), are refused before decoding.
"""

from __future__ import annotations

import io
import math
import os
import threading
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from indexing.colour import nclx_icc, reducible, to_srgb
from indexing.decoded import TRANSPOSE, Decoded, ImageError, bands, guard
from indexing.exif import ExifInfo, exif_from_blob, read_exif
from indexing.formats import is_raw

try:  # HEIC/HEIF support is a plugin; without it those files are reported as unsupported
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass

warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limits decide, see guard()
Image.MAX_IMAGE_PIXELS = None

BIG_DECODE_BYTES = 256 << 20  # a decode needing more memory than this streams through libvips
_VIPS_FORMATS = {"TIFF", "PNG", "WEBP", "GIF", "BMP", "PPM", "JPEG", "MPO"}
_big = threading.BoundedSemaphore(1)


def orientation_code(ops: list[tuple[str, int]]) -> int:
    """The EXIF code equal to a HEIF container's transforms, in file order: ('irot', degrees anticlockwise)
    and ('imir', direction) in libheif's terms (1 = horizontal: left-right, 0 = vertical: top-bottom; the
    HEIF editions disagree on the axis, libheif's decoder is what shows the pixels). Found by applying them
    to a 2x3 probe."""
    probe = np.arange(6).reshape(2, 3)
    a = probe
    for op, v in ops:
        if op == "irot":
            a = np.rot90(a, (int(v) // 90) % 4)
        elif op == "imir":
            a = a[:, ::-1] if int(v) == 1 else a[::-1, :]
    for code in range(1, 9):
        stored = Image.fromarray(probe.astype(np.uint8))
        shown = stored.transpose(TRANSPOSE[code]) if code in TRANSPOSE else stored
        if np.array_equal(np.asarray(shown), a):
            return code
    return 1


def _heif_container_code(img: Image.Image) -> int:
    heif = getattr(img, "_heif_file", None)
    try:
        c_image = heif[img.tell()]._c_image  # pillow-heif keeps libheif's transforms here
        return orientation_code([t for t in c_image.transformations if t[0] in ("irot", "imir")])
    except (AttributeError, IndexError, TypeError, ValueError):
        return 1


def _exif(img: Image.Image, fp: BinaryIO) -> ExifInfo:
    """The file's EXIF. Formats that keep it in a block of their own fall back to the block the decoder
    read; pillow-heif resets the orientation in that block (it applies the container's), and Pillow's AVIF
    decoder replaces it with the container's, so there the file's own tag comes from the file or nowhere."""
    fp.seek(0)
    info = read_exif(fp)
    fp.seek(0)
    if img.format in ("JPEG", "MPO", "TIFF") or info.taken_at or info.make or info.lat is not None:
        return info
    blob = img.info.get("exif")
    if not blob:
        return info if info.orientation else ExifInfo()
    out = exif_from_blob(blob)
    if img.format == "HEIF":
        out.orientation = img.info.get("original_orientation") or out.orientation
    elif img.format == "AVIF":
        out.orientation = info.orientation
    return out


def _head(fp: BinaryIO, n: int = 4096) -> bytes:
    pos = fp.tell()
    fp.seek(0)
    head = fp.read(n)
    fp.seek(pos)
    return head


def _xmp(img: Image.Image) -> bytes | None:
    x = img.info.get("xmp")
    if x is None and img.format == "TIFF":
        x = getattr(img, "tag_v2", {}).get(700)  # XMLPacket
    if isinstance(x, str):
        x = x.encode("utf-8", "replace")
    return bytes(x) if x else None


def _icc(img: Image.Image) -> bytes | None:
    return img.info.get("icc_profile") or nclx_icc(img.info.get("nclx_profile"))


def _need(w: int, h: int, min_side: int, min_long: int) -> tuple[int, int]:
    long_need = max(min_side, min_long)
    return (long_need, min_side) if w >= h else (min_side, long_need)


def decode(
    source: bytes | str | Path,
    *,
    min_side: int,
    max_pixels: int,
    min_long: int = 0,
    name: str | None = None,
    big_bytes: int = BIG_DECODE_BYTES,
) -> Decoded:
    """Decode so that the short side is at least `min_side` and the long side at least `min_long` (or the
    full size where the image is smaller): as little pixel work as those two needs allow. `source` is the
    file's bytes or its path (a path for files too big to hold in memory); `name` tells RAWs by extension."""
    name = name or (str(source) if not isinstance(source, bytes) else "")
    if is_raw(name):
        from indexing.raw import decode_raw

        return decode_raw(source, min_side=min_side, min_long=min_long, max_pixels=max_pixels)
    try:
        fp: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except OSError as e:
        raise ImageError(f"unreadable: {e.strerror or e}") from e
    with fp:
        file_size = len(source) if isinstance(source, bytes) else os.fstat(fp.fileno()).st_size
        try:
            img = Image.open(fp)
            w, h = img.size
            guard(w, h, img.mode, file_size, max_pixels)
            fmt = img.format or "?"
            exif = _exif(img, fp)
            xmp = _xmp(img)
            code, how = _orientation(img, exif)
            notes: list[str] = []
            if fmt == "JPEG2000" and img.mode == "RGB" and (jp2_bits(_head(fp)) or 8) > 8:
                notes.append(
                    "16-bit colour JPEG 2000, read at 8 bits by Pillow, whose decoder turns the very brightest "
                    "values black: convert it to 8 bits (or TIFF) to index it faithfully"
                )
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            need = _need(w, h, min_side, min_long)
            img.draft("RGB", need)  # JPEG: scaled in the DCT; HEIF: an embedded thumbnail if big enough
            full = img.size[0] * img.size[1] * bands(img.mode)
            if full > big_bytes:
                with _big:
                    if fmt in _VIPS_FORMATS and img.size == (w, h):
                        img, icc = _vips_reduced(source, (w, h), need)
                        notes.append("big picture: reduced while read by libvips")
                    else:
                        icc = _icc(img)
                        _reduced_load(img, need)
            else:
                icc = _icc(img)
                _reduced_load(img, need)
        except ImageError:
            raise
        except Image.DecompressionBombError as e:
            raise ImageError(f"refused as a decompression bomb: {e}") from e
        except UnidentifiedImageError as e:  # Pillow cannot read it (a 16-bit TIFF with alpha, say): libvips?
            fp.seek(0)
            img, icc, exif, xmp, fmt, w, h = _vips_fallback(source, fp, file_size, max_pixels, min_side, min_long, e)
            code, how, notes = exif.orientation or 1, "EXIF", ["decoded by libvips"]
        except (OSError, ValueError, SyntaxError, EOFError, RuntimeError) as e:  # truncated or corrupt data
            raise ImageError(f"corrupt or truncated image: {e}") from e
    factor = min(min(img.size) // max(min_side, 1), max(img.size) // max(min_side, min_long, 1))
    if factor >= 2:  # cheap box reduction first, so later resizes are small
        img = reducible(img).reduce(factor)
    img = to_srgb(img, icc, notes)
    if code in TRANSPOSE and fmt != "HEIF":  # libheif has already applied HEIF's
        img = img.transpose(TRANSPOSE[code])
        if code >= 5:
            w, h = h, w
    return Decoded(img, w, h, fmt, exif, xmp, code, how if code != 1 else None, notes)


def _orientation(img: Image.Image, exif: ExifInfo) -> tuple[int, str]:
    """(the transform that shows the picture upright as an EXIF code, where it comes from), read before
    anything replaces the decoder's image object."""
    if img.format == "HEIF":  # irot/imir, applied by libheif; the EXIF tag is then ignored
        return _heif_container_code(img), "HEIF container"
    if img.format == "AVIF":  # Pillow reports irot/imir as the orientation and leaves the pixels as stored
        try:
            code = int(img.getexif().get(0x0112, 1))
        except (TypeError, ValueError):
            code = 1
        return (code if 1 <= code <= 8 else 1), "AVIF container"
    return exif.orientation or 1, "EXIF"


def jp2_bits(head: bytes) -> int | None:
    """Bits per component of a JPEG 2000 file or codestream (from 'ihdr', or the SIZ marker), if it says."""
    i = head.find(b"ihdr")
    if i >= 0 and len(head) > i + 14:
        b = head[i + 14]
        return None if b == 255 else (b & 0x7F) + 1
    i = head.find(b"\xff\x51")
    if i >= 0 and len(head) > i + 40:
        return (head[i + 40] & 0x7F) + 1
    return None


def _reduced_load(img: Image.Image, need: tuple[int, int]) -> None:
    if img.format == "JPEG2000":  # decode only the resolution levels the need asks for
        factor = min(img.size[0] / need[0], img.size[1] / need[1])
        levels = min(int(math.log2(factor)) if factor >= 2 else 0, 5)
        while True:
            try:
                img.reduce = levels  # type: ignore[method-assign, assignment]
                img.load()
                return
            except OSError:
                if levels == 0:
                    raise
                levels -= 1
    img.load()


def _vips_reduced(
    source: bytes | str | Path, size: tuple[int, int], need: tuple[int, int]
) -> tuple[Image.Image, bytes | None]:
    """libvips shrinks while it reads (JPEG shrink-on-load, TIFF pyramids, streamed strips and PNG rows), so a
    600-MP scan never sits in memory at full size. It leaves the orientation to us and hands back the ICC
    profile (it converts CMYK and 16-bit to 8-bit sRGB itself)."""
    import pyvips

    w, h = size
    # the smallest size that meets both needs, with the picture's own aspect (thumbnail fits inside the box)
    scale = min(1.0, max(need[0] / w, need[1] / h))
    tw, th = max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))
    try:
        if isinstance(source, bytes):
            v = pyvips.Image.thumbnail_buffer(source, tw, height=th, size="down", no_rotate=True)
        else:
            v = pyvips.Image.thumbnail(str(source), tw, height=th, size="down", no_rotate=True)
        icc = v.get("icc-profile-data") if v.get_typeof("icc-profile-data") else None
        if v.format != "uchar":
            v = v.cast("uchar")
        arr = v.numpy()
    except pyvips.Error as e:
        raise ImageError(f"corrupt or truncated image: {str(e).strip().splitlines()[-1]}") from e
    if arr.ndim == 2:
        arr = arr[:, :, None]
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
    if v.interpretation == "cmyk":
        mode = "CMYK"
    return Image.fromarray(arr[:, :, 0] if mode == "L" else np.ascontiguousarray(arr), mode), icc


def _vips_fallback(
    source: bytes | str | Path,
    fp: BinaryIO,
    file_size: int,
    max_pixels: int,
    min_side: int,
    min_long: int,
    why: Exception,
) -> tuple[Image.Image, bytes | None, ExifInfo, bytes | None, str, int, int]:
    """A picture Pillow cannot open, read by libvips (its own header, guard, reduced read)."""
    import pyvips

    try:
        v = (
            pyvips.Image.new_from_buffer(source, "")
            if isinstance(source, bytes)
            else pyvips.Image.new_from_file(str(source))
        )
        w, h, loader = v.width, v.height, v.get("vips-loader") if v.get_typeof("vips-loader") else "vips"
        xmp = v.get("xmp-data") if v.get_typeof("xmp-data") else None
    except pyvips.Error:
        raise ImageError("not a supported image format") from why
    guard(w, h, "RGBA", file_size, max_pixels)
    with _big:
        img, icc = _vips_reduced(source, (w, h), _need(w, h, min_side, min_long))
    fmt = loader.removesuffix("load").removesuffix("_source").removesuffix("_buffer").upper() or "?"
    return img, icc, read_exif(fp), xmp, fmt, w, h


def thumbnail_bytes(img: Image.Image, size: int, quality: int = 80) -> bytes:
    """The CPU path's thumbnail file: WebP (half JPEG's size, 4 ms a picture)."""
    thumb = img.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    thumb.save(buf, "WEBP", quality=quality, method=2)  # method 4+ costs 2x the time for ~5% smaller files
    return buf.getvalue()


def jpeg_bytes(pixels: np.ndarray, quality: int = 85) -> bytes:
    """A JPEG (4:2:0) of an (h, w, 3) uint8 RGB array already at its size: the GPU path's thumbnails, made in
    the CPU threads. By libjpeg-turbo through simplejpeg (the `gpu` extra), which leaves the GIL to the stage's
    threads while it encodes, where Pillow's encoder holds it throughout (BENCHMARKS.md); else by Pillow."""
    try:
        import simplejpeg
    except ImportError:
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
        return buf.getvalue()
    return simplejpeg.encode_jpeg(np.ascontiguousarray(pixels), quality=quality, colorsubsampling="420")


def preview_bytes(
    source: bytes | str | Path, size: int, max_pixels: int, big_bytes: int = BIG_DECODE_BYTES, name: str | None = None
) -> bytes:
    """The upright image for the modal, at most `size` on its long side, as JPEG."""
    dec = decode(source, min_side=1, min_long=size, max_pixels=max_pixels, big_bytes=big_bytes, name=name)
    img = dec.image
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def probe(source: bytes | str | Path, *, name: str | None = None, max_pixels: int) -> Decoded:
    """What decode() says about a picture except its pixels: size, format, EXIF, XMP, orientation. For a
    file whose bytes did not change but whose sidecar or reader did; costs a header read, not a decode."""
    name = name or (str(source) if not isinstance(source, bytes) else "")
    if is_raw(name):
        from indexing.raw import probe_raw

        return probe_raw(source, max_pixels=max_pixels)
    try:
        with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as fp:
            img = Image.open(fp)
            w, h = img.size
            exif = _exif(img, fp)
            code, how = _orientation(img, exif)
            fmt, xmp = img.format or "?", _xmp(img)
    except (OSError, ValueError, SyntaxError, EOFError, RuntimeError, UnidentifiedImageError) as e:
        raise ImageError(f"unreadable: {e}") from e
    if code >= 5 and fmt != "HEIF":
        w, h = h, w
    return Decoded(Image.new("RGB", (1, 1)), w, h, fmt, exif, xmp, code, how if code != 1 else None)
