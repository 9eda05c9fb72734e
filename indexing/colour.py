"""Every decoded picture to 8-bit sRGB before the models and the thumbnails see it: embedded ICC profiles
(Display P3 from phones, Adobe RGB from cameras, CMYK press profiles) through LittleCMS, HEIF's nclx colour
(P3 primaries) through a shipped Display P3 profile, 16-bit and 32-bit samples scaled linearly, and
transparency laid over white.

Runs on the already reduced image, so a colour transform costs a millisecond or two, not a full-size pass.
"""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

# Display P3 (D65, sRGB curve): the compact profile libvips ships, by Clinton Ingram, CC0
DISPLAY_P3 = (Path(__file__).parent / "data" / "DisplayP3-compact.icc").read_bytes()
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_SPACES = {"RGB ": "RGB", "GRAY": "L", "CMYK": "CMYK"}
_cache: dict[tuple[str, str], ImageCms.ImageCmsTransform | None] = {}
_cache_lock = threading.Lock()


def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached transform from the profile to sRGB; NOCACHE makes one transform safe across threads."""
    key = (hashlib.blake2b(icc, digest_size=16).hexdigest(), mode)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    t = None
    src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    if _SPACES.get(src.profile.xcolor_space) == mode:
        intent = ImageCms.Intent.PERCEPTUAL
        if not ImageCms.isIntentSupported(src, intent, ImageCms.Direction.INPUT):
            intent = ImageCms.Intent.RELATIVE_COLORIMETRIC
        t = ImageCms.buildTransform(src, _SRGB, mode, "RGB", intent, flags=ImageCms.Flags.NOCACHE)
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = t
    return t


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale to 8-bit by the same linear scale everywhere (no contrast stretch: a dark
    picture stays dark)."""
    a = np.asarray(img)
    if img.mode == "F":
        top = 1.0 if float(np.nanmax(a, initial=0.0)) <= 1.0 else 255.0
        return Image.fromarray(np.clip(np.nan_to_num(a) * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if img.mode.startswith("I;16"):
        return Image.fromarray((a.astype(np.uint32) * 255 // 65535).astype(np.uint8), "L")
    top = int(a.max(initial=0))  # mode "I": 32-bit integers holding 8, 16 or 32-bit data
    scale = 255 if top <= 255 else (65535 if top <= 65535 else 2**32 - 1)
    return Image.fromarray((a.astype(np.float64) * (255.0 / scale)).astype(np.uint8), "L")


def reducible(img: Image.Image) -> Image.Image:
    """The same picture in a mode Image.reduce() takes (it refuses palettes, bilevel and 16-bit integers)."""
    if img.mode == "P":
        return img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode == "1":
        return img.convert("L")
    if img.mode.startswith("I;16"):
        return img.convert("I")
    return img


def nclx_icc(nclx: dict | None) -> bytes | None:
    """The profile for a HEIF/AVIF nclx colour box where it is not sRGB: Display P3 primaries (12)."""
    if nclx and nclx.get("color_primaries") == 12:
        return DISPLAY_P3
    return None


def to_srgb(img: Image.Image, icc: bytes | None, notes: list[str] | None = None) -> Image.Image:
    """An RGB image in sRGB. `icc` is the file's embedded profile (None: assume sRGB, or CMYK converted plainly);
    a profile that cannot be used is ignored with a note."""
    notes = notes if notes is not None else []
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = _to_8bit(img)
    alpha = None
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        alpha = rgba.getchannel("A")
        img = rgba.convert("RGB")
    elif img.mode not in ("RGB", "L", "CMYK"):
        img = img.convert("RGB")  # 1, P, YCbCr, LAB, HSV
    if icc:
        try:
            t = _transform(icc, img.mode)
        except (OSError, ImageCms.PyCMSError, ValueError, TypeError) as e:
            notes.append(f"colour profile unreadable, ignored: {e}")
            t = None
        if t is not None:
            img = ImageCms.applyTransform(img, t)
        elif img.mode != "RGB":
            notes.append(f"colour profile does not fit a {img.mode} image, ignored")
    if img.mode != "RGB":
        img = img.convert("RGB")  # Pillow's plain conversion: greyscale, or CMYK without a profile
    if alpha is not None and alpha.getextrema() != (255, 255):
        bg = Image.new("RGB", img.size, (255, 255, 255))  # transparent areas on white, not black
        bg.paste(img, mask=alpha)
        img = bg
    return img
