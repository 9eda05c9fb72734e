"""Test files made by the real tools that make them in the world, never by the code under test: ImageMagick
draws and converts, libheif encodes HEIF (with the irot/imir container rotation phones write) and renders the
reference, exiftool writes EXIF, XMP and sidecars, libvips writes big TIFFs, pidng writes DNGs and dcraw
renders them. A missing tool skips the test that needs it, saying how to install it (`make tools` does).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FIXTURES = Path(__file__).parent / "fixtures"
CAMERA = FIXTURES / "camera"
GHOSTSCRIPT_ICC = Path("/usr/share/color/icc/ghostscript")
PACKAGES = {
    "exiftool": "libimage-exiftool-perl",
    "heif-enc": "libheif-examples",
    "heif-convert": "libheif-examples",
    "heif-info": "libheif-examples",
    "convert": "imagemagick",
    "vips": "libvips-tools",
    "dcraw": "dcraw",
}


def tool(name: str) -> str:
    path = shutil.which(name)
    if name == "convert":  # a stand-in may sit on PATH; only ImageMagick's own will do
        path = "/usr/bin/convert" if Path("/usr/bin/convert").exists() else None
    if path is None:
        pytest.skip(f"{name} is not installed: apt-get install {PACKAGES[name]} (or `make tools`)")
    return path


def run(name: str, *args: object) -> str:
    out = subprocess.run([tool(name), *map(str, args)], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(map(str, args))} failed: {out.stderr.strip()}")
    return out.stdout


# -- pictures ------------------------------------------------------------------------------------------
def scene(path: Path, w: int = 300, h: int = 400) -> Path:
    """An upright picture whose every turn and mirror shows: a red block top-left, a green one top-right,
    a blue band along the bottom, a grey gradient between (ImageMagick draws it)."""
    bw, bh = w // 4, h // 5
    run(
        "convert", "-size", f"{w}x{h}", "gradient:#d0d0d0-#505050",
        "-fill", "#ff0000", "-draw", f"rectangle 0,0 {bw},{bh}",
        "-fill", "#00ff00", "-draw", f"rectangle {w - bw},0 {w - 1},{bh}",
        "-fill", "#0000ff", "-draw", f"rectangle 0,{h - bh // 2} {w - 1},{h - 1}",
        "-alpha", "off", path,
    )  # fmt: skip
    return path


# the ImageMagick operations that store an upright picture so that EXIF orientation `o` shows it upright
STORE_FOR = {
    1: [],
    2: ["-flop"],
    3: ["-rotate", "180"],
    4: ["-flip"],
    5: ["-transpose"],
    6: ["-rotate", "-90"],
    7: ["-transverse"],
    8: ["-rotate", "90"],
}


def stored(upright: Path, orientation: int, out: Path) -> Path:
    """The pixels a camera stores for an upright picture taken at this orientation."""
    run("convert", upright, *STORE_FOR[orientation], out)
    return out


def exif(path: Path, *assignments: str) -> Path:
    """exiftool writes tags in place, e.g. '-Orientation#=6', '-GPSLatitude=47.37'."""
    run("exiftool", "-q", "-m", "-overwrite_original", *assignments, path)
    return path


def heic_like_a_phone(upright: Path, orientation: int, out: Path, exif_orientation: int | None = -1) -> Path:
    """A HEIC as phones write it: the sensor's pixels, the container rotation/mirror (irot/imir) that shows
    them upright, and an EXIF Orientation tag (by default the same one; None leaves it out). libheif's
    encoder writes the container transforms; exiftool writes the EXIF."""
    import pillow_heif

    raw = stored(upright, orientation, out.with_name(f".{out.name}.stored.png"))  # hidden: scans skip it
    ex = Image.Exif()
    ex[0x0112] = orientation  # libheif turns this into irot/imir
    pillow_heif.from_pillow(Image.open(raw).convert("RGB")).save(str(out), quality=92, exif=ex.tobytes(), chroma=444)
    tag = orientation if exif_orientation == -1 else exif_orientation
    exif(out, "-EXIF:Orientation=" if tag is None else f"-EXIF:Orientation#={tag}", "-Make=Apple", "-Model=iPhone 15")
    return out


def container_transforms(path: Path) -> tuple[int | None, str | None]:
    """(irot degrees, imir direction) as heif-info reads the boxes: an independent check of the fixture."""
    out = run("heif-info", "-d", path)
    lines = [line.strip(" |") for line in out.splitlines()]
    rot = next((int(line.split()[1]) for line in lines if line.startswith("rotation:")), None)
    mir = next((line.split(":")[1].strip() for line in lines if line.startswith("mirror direction")), None)
    return rot, mir


def heif_reference(path: Path, out: Path) -> Image.Image:
    """libheif's own rendering (heif-convert applies the container's transforms)."""
    run("heif-convert", path, out)
    return Image.open(out).convert("RGB")


# -- comparing what a user sees ----------------------------------------------------------------------------
def small(img: Image.Image, w: int = 48) -> np.ndarray:
    h = max(1, round(img.height * w / img.width))
    return np.asarray(img.convert("RGB").resize((w, h), Image.Resampling.BOX), np.float32)


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two pictures at thumbnail scale (same aspect required)."""
    x, y = small(a), small(b)
    assert x.shape == y.shape, f"different shapes: {a.size} vs {b.size}"
    return float(np.abs(x - y).mean())


def corner_colours(img: Image.Image) -> tuple[str, str, str]:
    """Which colour sits top-left, top-right and bottom-centre: 'red', 'green', 'blue' or 'grey'."""
    a = small(img, 40)
    h, w, _ = a.shape

    def name(px: np.ndarray) -> str:
        r, g, b = px
        if r > 180 and g < 90 and b < 90:
            return "red"
        if g > 180 and r < 90 and b < 90:
            return "green"
        if b > 180 and r < 90 and g < 90:
            return "blue"
        return "grey"

    return name(a[1, 1]), name(a[1, w - 2]), name(a[h - 1, w // 2])


UPRIGHT = ("red", "green", "blue")


# -- RAW -------------------------------------------------------------------------------------------------
XYZ_TO_LINEAR_SRGB = [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]


def dng(upright: Path, out: Path, orientation: int = 1) -> Path:
    """A real DNG (pidng writes it): an RGGB Bayer mosaic of the upright picture stored for `orientation`,
    12-bit linear, with a colour matrix that makes the camera's space linear sRGB, and the Orientation tag.
    Then LibRaw and dcraw read it as they read a camera's."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, PhotometricInterpretation

    raw_png = stored(upright, orientation, out.with_name(f".{out.name}.stored.png"))
    rgb = np.asarray(Image.open(raw_png).convert("RGB"), np.float64) / 255
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    h, w, _ = lin.shape
    white = 4095
    bayer = np.zeros((h, w), np.uint16)
    bayer[0::2, 0::2] = lin[0::2, 0::2, 0] * white
    bayer[0::2, 1::2] = lin[0::2, 1::2, 1] * white
    bayer[1::2, 0::2] = lin[1::2, 0::2, 1] * white
    bayer[1::2, 1::2] = lin[1::2, 1::2, 2] * white
    t = DNGTags()
    for tag, value in (
        (Tag.ImageWidth, w), (Tag.ImageLength, h), (Tag.TileWidth, w), (Tag.TileLength, h),
        (Tag.Orientation, orientation),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1), (Tag.BitsPerSample, 16),
        (Tag.CFARepeatPatternDim, [2, 2]), (Tag.CFAPattern, CFAPattern.RGGB),
        (Tag.BlackLevel, 0), (Tag.WhiteLevel, white),
        (Tag.ColorMatrix1, [[round(v * 10000), 10000] for row in XYZ_TO_LINEAR_SRGB for v in row]),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
        (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.Make, "StyleSeek"), (Tag.Model, "Test Sensor"),
        (Tag.DNGVersion, DNGVersion.V1_4), (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ):  # fmt: skip
        t.set(tag, value)
    r = RAW2DNG()
    r.options(t, path="", compress=False)
    r.convert(bayer, filename=str(out.with_suffix("")))
    return out.with_suffix(".dng")


def dcraw_reference(path: Path) -> Image.Image:
    """dcraw's own rendering: half size, camera white balance, turned by the file's orientation."""
    import io

    out = subprocess.run([tool("dcraw"), "-c", "-w", "-h", str(path)], capture_output=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"dcraw failed on {path}: {out.stderr.decode(errors='replace')}")
    return Image.open(io.BytesIO(out.stdout)).convert("RGB")
