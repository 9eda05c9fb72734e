from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexing.exif import read_exif
from indexing.imageio import ImageError, decode, thumbnail_bytes
from tests.imagegen import pattern, save_jpeg, write_broken

HEMISPHERES = [
    ("zurich", 47.3769, 8.5417, 408.0),
    ("sydney", -33.8688, 151.2093, 58.0),
    ("rio", -22.9068, -43.1729, -12.5),
    ("new_york", 40.7128, -74.0060, 10.0),
    ("fiji_antimeridian", -17.7134, 179.9999, None),
]


@pytest.mark.parametrize(("name", "lat", "lon", "alt"), HEMISPHERES)
def test_gps_in_all_hemispheres_signed_decimal(
    tmp_path: Path, name: str, lat: float, lon: float, alt: float | None
) -> None:
    p = save_jpeg(tmp_path / f"{name}.jpg", pattern(40, 30, 1), gps=(lat, lon, alt))
    info = read_exif(open(p, "rb"))
    assert info.lat == pytest.approx(lat, abs=1e-4)
    assert info.lon == pytest.approx(lon, abs=1e-4)
    if alt is None:
        assert info.alt is None
    else:
        assert info.alt == pytest.approx(alt, abs=0.01)
    assert info.notes == []


def test_camera_date_orientation(tmp_path: Path) -> None:
    p = save_jpeg(
        tmp_path / "a.jpg",
        pattern(40, 30, 1),
        taken="2019:12:31 23:59:58",
        make="NIKON CORPORATION",
        model="NIKON D850",
        orientation=6,
    )
    info = read_exif(open(p, "rb"))
    assert info.taken_at == "2019-12-31T23:59:58"
    assert info.camera == "NIKON CORPORATION NIKON D850"
    assert info.orientation == 6


def test_camera_model_that_repeats_the_make_is_not_doubled(tmp_path: Path) -> None:
    p = save_jpeg(tmp_path / "a.jpg", pattern(40, 30, 1), make="Canon", model="Canon EOS R5")
    assert read_exif(open(p, "rb")).camera == "Canon EOS R5"


def test_bad_gps_is_ignored_with_a_note(tmp_path: Path) -> None:
    p = save_jpeg(tmp_path / "badref.jpg", pattern(40, 30, 1), gps=(10.0, 20.0, None), lat_ref="", lon_ref="")
    info = read_exif(open(p, "rb"))
    assert info.lat is None and info.lon is None
    assert any("hemisphere" in n for n in info.notes)
    p = save_jpeg(tmp_path / "range.jpg", pattern(40, 30, 1), gps=(95.0, 200.0, None))
    info = read_exif(open(p, "rb"))
    assert info.lat is None
    assert any("out of range" in n for n in info.notes)


def test_no_exif_is_not_an_error(tmp_path: Path) -> None:
    p = tmp_path / "plain.png"
    pattern(40, 30, 1).save(p)
    info = read_exif(open(p, "rb"))
    assert (info.taken_at, info.camera, info.lat, info.orientation, info.notes) == (None, None, None, None, [])


# the transpose that a viewer applies for each EXIF orientation, written out independently of the code
UPRIGHT = {
    1: lambda im: im,
    2: lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    3: lambda im: im.rotate(180),
    4: lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    5: lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(90, expand=True),
    6: lambda im: im.rotate(-90, expand=True),
    7: lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(-90, expand=True),
    8: lambda im: im.rotate(90, expand=True),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_eight_orientations_decode_upright(tmp_path: Path, orientation: int) -> None:
    upright = pattern(80, 60, 3)  # red block at top-left when shown upright
    stored = upright
    # store the pixels so that applying the orientation gives `upright` back
    inverse = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}[orientation]
    stored = UPRIGHT[inverse](upright)
    p = save_jpeg(tmp_path / f"o{orientation}.jpg", stored, orientation=orientation)
    dec = decode(p.read_bytes(), min_side=64, max_pixels=10**8)  # 64 > 60: no draft downscaling here
    assert (dec.width, dec.height) == (80, 60)
    assert dec.image.size == (80, 60)
    got = np.asarray(dec.image, dtype=np.float32)
    assert got[5, 5, 0] > 200 and got[5, 5, 1] < 60, "the red corner must end up top-left"
    assert np.abs(got - np.asarray(upright, dtype=np.float32)).mean() < 12


def test_draft_mode_downscales_large_jpeg_but_keeps_min_side(tmp_path: Path) -> None:
    p = save_jpeg(tmp_path / "big.jpg", pattern(2400, 1600, 5))
    dec = decode(p.read_bytes(), min_side=224, max_pixels=10**8)
    assert (dec.width, dec.height) == (2400, 1600)
    assert 224 <= min(dec.image.size) < 450


def test_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    Image.new("L", (5000, 5000)).save(p, optimize=True)  # small file, 25 MP
    with pytest.raises(ImageError, match="exceeds"):
        decode(p.read_bytes(), min_side=16, max_pixels=10_000_000)


def test_broken_files_raise_clear_errors(tmp_path: Path) -> None:
    files = write_broken(tmp_path)
    with pytest.raises(ImageError, match="corrupt or truncated"):
        decode(files["truncated"].read_bytes(), min_side=16, max_pixels=10**8)
    for key in ("garbage", "text"):
        with pytest.raises(ImageError):
            decode(files[key].read_bytes(), min_side=16, max_pixels=10**8)


def test_gif_first_frame_and_transparency(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)
    dec = decode(p.read_bytes(), min_side=8, max_pixels=10**8)
    r, g, b = dec.image.getpixel((2, 2))
    assert r > 200 and b < 60
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    assert decode(buf.getvalue(), min_side=8, max_pixels=10**8).image.getpixel((2, 2)) == (255, 255, 255)


def test_heic_decodes_through_pillow_heif(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    p = tmp_path / "x.heic"
    pillow_heif.from_pillow(pattern(64, 48, 2)).save(str(p), quality=90)
    dec = decode(p.read_bytes(), min_side=16, max_pixels=10**8)
    assert (dec.width, dec.height) == (64, 48)
    assert dec.format in ("HEIF", "HEIC")


def test_thumbnail_is_webp_within_size(tmp_path: Path) -> None:
    data = thumbnail_bytes(pattern(300, 120, 1), 64)
    im = Image.open(io.BytesIO(data))
    assert im.format == "WEBP" and max(im.size) == 64
