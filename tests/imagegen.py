"""Images the tests make themselves: EXIF via piexif (GPS, orientation, camera), and broken files."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import piexif
from PIL import Image


def _rational(x: float, den: int = 10000) -> tuple[int, int]:
    f = Fraction(x).limit_denominator(den)
    return (f.numerator, f.denominator)


def _dms(value: float) -> tuple:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return ((d, 1), (m, 1), _rational(s, 1000))


def exif_bytes(
    *,
    gps: tuple[float, float, float | None] | None = None,
    orientation: int | None = None,
    taken: str | None = None,
    make: str | None = None,
    model: str | None = None,
    lat_ref: str | None = None,
    lon_ref: str | None = None,
) -> bytes:
    zeroth: dict = {}
    ex: dict = {}
    gps_ifd: dict = {}
    if orientation is not None:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    if make:
        zeroth[piexif.ImageIFD.Make] = make.encode()
    if model:
        zeroth[piexif.ImageIFD.Model] = model.encode()
    if taken:
        ex[piexif.ExifIFD.DateTimeOriginal] = taken.encode()
    if gps is not None:
        lat, lon, alt = gps
        gps_ifd[piexif.GPSIFD.GPSLatitudeRef] = (
            lat_ref if lat_ref is not None else ("N" if lat >= 0 else "S")
        ).encode()
        gps_ifd[piexif.GPSIFD.GPSLatitude] = _dms(lat)
        gps_ifd[piexif.GPSIFD.GPSLongitudeRef] = (
            lon_ref if lon_ref is not None else ("E" if lon >= 0 else "W")
        ).encode()
        gps_ifd[piexif.GPSIFD.GPSLongitude] = _dms(lon)
        if alt is not None:
            gps_ifd[piexif.GPSIFD.GPSAltitudeRef] = 1 if alt < 0 else 0
            gps_ifd[piexif.GPSIFD.GPSAltitude] = _rational(abs(alt), 100)
    return piexif.dump({"0th": zeroth, "Exif": ex, "GPS": gps_ifd, "1st": {}, "thumbnail": None})


def pattern(w: int, h: int, seed: int) -> Image.Image:
    """A smooth, asymmetric picture: each seed differs and any flip or rotation shows."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(0, 255, 3)
    img = np.stack(
        [
            base[0] + 120 * np.sin(x / (w / (2 + seed % 5)) + seed),
            base[1] + 100 * (x / w) * (y / h),
            base[2] + 80 * np.cos(y / (h / 3) + seed * 0.7),
        ],
        axis=-1,
    )
    img[: h // 4, : w // 4] = (255, 0, 0)  # a red top-left corner marks orientation
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def save_jpeg(path: Path, img: Image.Image, **exif: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    kw = {"exif": exif_bytes(**exif)} if exif else {}
    img.save(path, "JPEG", quality=90, **kw)
    return path


def make_collection(root: Path, n: int = 12, size: tuple[int, int] = (96, 72)) -> list[Path]:
    """n distinct pictures in a few formats and nested folders."""
    out = []
    for i in range(n):
        img = pattern(size[0] + i, size[1], seed=i)
        if i % 4 == 0:
            p = root / "sub" / f"img{i:03d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            img.save(p)
        elif i % 4 == 1:
            p = save_jpeg(
                root / f"img{i:03d}.jpg",
                img,
                taken="2021:07:14 10:30:00",
                make="Canon",
                model="Canon EOS R5",
                gps=(47.3769, 8.5417, 408.0),
            )
        elif i % 4 == 2:
            p = root / "deep" / "er" / f"img{i:03d}.webp"
            p.parent.mkdir(parents=True, exist_ok=True)
            img.save(p, "WEBP")
        else:
            p = save_jpeg(root / f"img{i:03d}.jpg", img)
        out.append(p)
    return out


def write_broken(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    good = io.BytesIO()
    pattern(64, 48, 99).save(good, "JPEG")
    data = good.getvalue()
    files = {
        "zero": root / "zero.jpg",
        "truncated": root / "truncated.jpg",
        "garbage": root / "garbage.png",
        "text": root / "notes.jpg",
    }
    files["zero"].write_bytes(b"")
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["garbage"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    files["text"].write_text("this is not an image\n")
    return files
