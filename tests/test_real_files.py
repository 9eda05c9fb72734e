"""What phones and cameras really write, made by the real tools (tests/realfiles.py), checked as a user sees
it: upright thumbnails against the tools' own renderings, sizes, colours, GPS, time, what was skipped."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexing.exif import read_exif
from indexing.imageio import ImageError, decode, orientation_code
from settings import Settings
from tests import realfiles as rf
from tests.helpers import index, record, thumb
from tests.realfiles import UPRIGHT, corner_colours, mean_diff


@pytest.fixture(scope="session")
def upright(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rf.scene(tmp_path_factory.mktemp("scene") / "upright.png")


def dec(path: Path, **kw: object):  # noqa: ANN201
    return decode(path, min_side=kw.pop("min_side", 64), min_long=kw.pop("min_long", 0), max_pixels=10**9, **kw)


# -- HEIF / AVIF orientation ---------------------------------------------------------------------------
def test_container_transforms_map_to_exif_codes() -> None:
    # HEIF's irot is anticlockwise; libheif reports imir's direction 1 (horizontal) for a left-right flip
    assert orientation_code([]) == 1
    assert orientation_code([("irot", 270)]) == 6
    assert orientation_code([("irot", 90)]) == 8
    assert orientation_code([("irot", 180)]) == 3
    assert orientation_code([("imir", 1)]) == 2
    assert orientation_code([("imir", 0)]) == 4


@pytest.mark.parametrize("orientation", range(1, 9))
def test_heic_from_a_phone_is_upright(tmp_path: Path, upright: Path, orientation: int) -> None:
    """Container rotation/mirror plus the same EXIF Orientation, as iPhones and Android phones write them:
    shown upright once, like libheif's own heif-convert shows it, never turned a second time."""
    p = rf.heic_like_a_phone(upright, orientation, tmp_path / f"IMG_{orientation}.HEIC")
    rot, mir = rf.container_transforms(p)
    assert orientation == 1 or rot or mir, "the fixture must carry the container transform"
    assert rf.run("exiftool", "-s3", "-n", "-Orientation", p).strip() == str(orientation), "and the EXIF tag"
    reference = rf.heif_reference(p, tmp_path / "ref.png")
    d = dec(p, min_side=300)
    assert reference.size == (300, 400)
    assert (d.width, d.height) == (300, 400)
    assert d.image.size == (300, 400)
    assert corner_colours(d.image) == UPRIGHT
    assert mean_diff(d.image, reference) < 6
    assert d.exif.orientation == orientation
    assert d.orientation_applied == orientation
    assert d.orientation_source == (None if orientation == 1 else "HEIF container")


def test_heic_exif_tag_without_container_rotation_is_not_applied(tmp_path: Path, upright: Path) -> None:
    """heif-enc keeps a JPEG's EXIF Orientation but writes no irot: per HEIF, and as libheif shows it, the
    picture is what the container says (here: as stored), whatever the EXIF tag claims."""
    jpg = tmp_path / "stored.jpg"
    rf.run("convert", rf.stored(upright, 6, tmp_path / "s.png"), jpg)
    rf.exif(jpg, "-Orientation#=6")
    heic = tmp_path / "noirot.heic"
    rf.run("heif-enc", "-q", "92", jpg, "-o", heic)
    assert rf.container_transforms(heic) == (None, None)
    reference = rf.heif_reference(heic, tmp_path / "ref.png")
    d = dec(heic, min_side=300)
    assert (d.width, d.height) == reference.size == (400, 300)
    assert mean_diff(d.image, reference) < 6
    assert d.exif.orientation == 6 and d.orientation_applied == 1


def test_heic_container_rotation_without_exif_tag(tmp_path: Path, upright: Path) -> None:
    p = rf.heic_like_a_phone(upright, 6, tmp_path / "IMG_2.HEIC", exif_orientation=None)
    d = dec(p, min_side=300)
    assert corner_colours(d.image) == UPRIGHT and (d.width, d.height) == (300, 400)
    assert d.exif.orientation is None and d.orientation_applied == 6


@pytest.mark.parametrize("orientation", [3, 5, 6, 8])
def test_avif_with_container_rotation_and_exif_tag_is_upright(tmp_path: Path, upright: Path, orientation: int) -> None:
    """Pillow's AVIF encoder (libavif) writes irot/imir; exiftool adds the EXIF tag a phone would."""
    raw = Image.open(rf.stored(upright, orientation, tmp_path / "s.png")).convert("RGB")
    ex = Image.Exif()
    ex[0x0112] = orientation
    p = tmp_path / "pic.avif"
    raw.save(p, quality=90, exif=ex.tobytes())
    rf.exif(p, f"-EXIF:Orientation#={orientation}")
    assert rf.container_transforms(p) != (None, None)
    reference = rf.heif_reference(p, tmp_path / "ref.png")
    d = dec(p, min_side=300)
    assert (d.width, d.height) == (300, 400) and corner_colours(d.image) == UPRIGHT
    assert mean_diff(d.image, reference) < 8
    assert d.orientation_applied == orientation and d.orientation_source == "AVIF container"


def test_indexed_iphone_heic_record_thumbnail_time_and_place(
    tmp_path: Path, settings: Settings, shared_encoder, upright: Path
) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    lib.mkdir()
    p = rf.heic_like_a_phone(upright, 6, lib / "IMG_0042.HEIC")
    rf.exif(
        p,
        "-DateTimeOriginal=2024:06:01 18:30:00",
        "-OffsetTimeOriginal=+02:00",
        "-GPSLatitude=48.8584",
        "-GPSLatitudeRef=N",
        "-GPSLongitude=2.2945",
        "-GPSLongitudeRef=E",
    )
    svc, report = index(settings, shared_encoder, lib)
    assert report["indexed"] == 1 and report["failed"] == 0
    rec = record(svc, p)
    assert (rec["width"], rec["height"]) == (300, 400)
    assert rec["orientation"] == 6 and rec["orientation_applied"] == 6
    assert rec["sources"]["orientation"] == "HEIF container"
    assert rec["taken_at"] == "2024-06-01T18:30:00+02:00" and rec["taken_at_utc"] == "2024-06-01T16:30:00Z"
    assert rec["gps"]["lat"] == pytest.approx(48.8584, abs=1e-4)
    t = thumb(svc, rec)
    assert t.width < t.height and corner_colours(t) == UPRIGHT
    assert mean_diff(t, rf.heif_reference(p, tmp_path / "ref.png")) < 8


# -- colour --------------------------------------------------------------------------------------------
def test_display_p3_heic_is_converted_to_srgb(tmp_path: Path, upright: Path) -> None:
    """A P3 picture (ImageMagick converts to the Display P3 profile, heif-enc embeds it): the red block must
    come back sRGB red, not the duller red its P3 numbers read as when the profile is ignored."""
    p3_png = tmp_path / "p3.png"
    rf.run(
        "convert", upright, "-profile", rf.GHOSTSCRIPT_ICC / "srgb.icc",
        "-profile", Path("indexing/data/DisplayP3-compact.icc").absolute(), p3_png,
    )  # fmt: skip
    heic = tmp_path / "p3.heic"
    rf.run("heif-enc", "-q", "95", "-p", "chroma=444", p3_png, "-o", heic)
    assert "sP3C" in rf.run("exiftool", "-s3", "-ProfileDescription", heic)
    naive = np.asarray(Image.open(p3_png).convert("RGB"))[10, 10]
    assert naive[0] < 245 and naive[1] > 30, f"the fixture's red is P3-encoded: {naive}"
    d = dec(heic, min_side=300)
    r, g, b = np.asarray(d.image)[10, 10]
    assert r > 245 and g < 25 and b < 25, (r, g, b)
    assert mean_diff(d.image, Image.open(upright)) < 5


def test_adobe_rgb_jpeg_from_a_camera_is_converted(tmp_path: Path, upright: Path) -> None:
    p = tmp_path / "adobe.jpg"
    rf.run(
        "convert", upright, "-profile", rf.GHOSTSCRIPT_ICC / "srgb.icc", "-profile", rf.GHOSTSCRIPT_ICC / "a98.icc", p
    )
    rf.exif(p, "-Make=Canon", "-Model=Canon EOS R5")
    plain = np.asarray(Image.open(p).convert("RGB")).astype(int)
    assert abs(plain[5, 290] - [0, 255, 0]).max() > 100, "read as sRGB, Adobe RGB's green is far off"
    d = np.asarray(dec(p, min_side=300).image).astype(int)
    assert abs(d[5, 290] - [0, 255, 0]).max() < 16 and abs(d[5, 5] - [255, 0, 0]).max() < 16
    assert mean_diff(dec(p, min_side=300).image, Image.open(upright)) < 3


@pytest.mark.parametrize("with_profile", [True, False])
def test_cmyk_and_ycck_jpegs_match_imagemagick(tmp_path: Path, upright: Path, with_profile: bool) -> None:
    """ImageMagick writes Adobe CMYK JPEGs (YCCK-transformed, inverted): with a SWOP profile, or without."""
    p = tmp_path / "cmyk.jpg"
    if with_profile:
        rf.run("convert", upright, "-profile", rf.GHOSTSCRIPT_ICC / "srgb.icc", "-profile",
               rf.GHOSTSCRIPT_ICC / "default_cmyk.icc", p)  # fmt: skip
    else:
        rf.run("convert", upright, "-colorspace", "CMYK", p)
    assert "YCCK" in rf.run("exiftool", "-s3", "-ColorTransform", p)
    ref = tmp_path / "ref.png"
    if with_profile:
        rf.run("convert", p, "-profile", rf.GHOSTSCRIPT_ICC / "srgb.icc", ref)
    else:
        rf.run("convert", p, "-colorspace", "sRGB", ref)
    d = dec(p, min_side=300)
    assert corner_colours(d.image)[0] == "red"  # SWOP's gamut has no pure green; the reference says the rest
    assert mean_diff(d.image, Image.open(ref)) < 6


def test_16_bit_png_and_tiff_scale_linearly(tmp_path: Path, upright: Path) -> None:
    for name, args in (
        ("rgb16.png", ["-depth", "16"]),
        ("gray16.tif", ["-colorspace", "Gray", "-depth", "16"]),
        ("dark16.png", ["-colorspace", "Gray", "-evaluate", "multiply", "0.2", "-depth", "16"]),
    ):
        p = tmp_path / name
        rf.run("convert", upright, *args, p)
        assert "16" in rf.run("exiftool", "-s3", "-BitDepth", "-BitsPerSample", p)
        ref = tmp_path / f"{name}.8.png"
        rf.run("convert", p, "-depth", "8", ref)
        d = dec(p, min_side=300)
        assert mean_diff(d.image, Image.open(ref)) < 2, name  # a dark picture stays dark: no contrast stretch


def test_palette_png_transparency_is_white_and_grayscale_is_grey(tmp_path: Path, upright: Path) -> None:
    p = tmp_path / "pal.png"
    rf.run("convert", upright, "-fill", "none", "-draw", "color 150,200 floodfill", "-colors", "32",
           "-transparent", "#0000ff", "PNG8:" + str(p))  # fmt: skip
    d = dec(p, min_side=300)
    bottom = np.asarray(d.image)[395, 150]
    assert bottom.min() > 250, f"the transparent blue band must be white, got {bottom}"
    g = tmp_path / "gray.jpg"
    rf.run("convert", upright, "-colorspace", "Gray", g)
    d = dec(g, min_side=300)
    assert d.image.mode == "RGB"
    a = np.asarray(d.image).astype(int)
    assert np.abs(a[..., 0] - a[..., 1]).max() <= 1


# -- XMP ------------------------------------------------------------------------------------------------
def test_xmp_sidecar_fills_what_exif_lacks_and_exif_wins(
    tmp_path: Path, settings: Settings, shared_encoder, upright: Path
) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    lib.mkdir()
    jpg = lib / "IMG_1234.jpg"
    rf.run("convert", upright, jpg)
    rf.exif(jpg, "-DateTimeOriginal=2023:05:01 19:45:00", "-Make=FUJIFILM", "-Model=X-T5")
    side = lib / "IMG_1234.xmp"  # Lightroom's name
    rf.run(
        "exiftool", "-q", "-XMP-exif:GPSLatitude=48.8584", "-XMP-exif:GPSLongitude=2.2945",
        "-XMP-exif:DateTimeOriginal=2020:01:01 00:00:00", "-XMP-xmp:Rating=4", "-XMP-dc:Title=Tour Eiffel",
        "-XMP-dc:Description=From the Trocadéro", "-XMP-dc:Subject=paris", "-XMP-dc:Subject=tower", "-o", side,
    )  # fmt: skip
    svc, report = index(settings, shared_encoder, lib)
    assert report["indexed"] == 1 and report["skipped_by_kind"] == {"sidecar": 1}
    rec = record(svc, jpg)
    assert rec["gps"]["lat"] == pytest.approx(48.8584, abs=1e-4) and rec["gps"]["lon"] == pytest.approx(
        2.2945, abs=1e-4
    )
    assert rec["taken_at"] == "2023-05-01T19:45:00", "EXIF's date wins over the sidecar's"
    assert (rec["rating"], rec["title"], rec["description"]) == (4, "Tour Eiffel", "From the Trocadéro")
    assert rec["keywords"] == ["paris", "tower"]
    assert rec["sources"]["gps"] == "XMP sidecar IMG_1234.xmp" and rec["sources"]["taken_at"] == "EXIF"
    assert rec["sidecars"] == [str(side)]
    assert rec["place"]["country_code"] == "FR"

    # the user rates it again in Lightroom: the next run re-reads the sidecar, keeps the id and vector
    time.sleep(0.01)
    rf.exif(side, "-XMP-xmp:Rating=2")
    report = svc.index_folders([lib]).to_dict()
    assert report["indexed"] == 0 and report["unchanged"] == 1
    again = record(svc, jpg)
    assert again["id"] == rec["id"] and again["rating"] == 2


def test_darktable_sidecar_and_embedded_xmp(tmp_path: Path, upright: Path, settings: Settings, shared_encoder) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    lib.mkdir()
    png = lib / "scan.png"
    rf.run("convert", upright, png)
    rf.exif(png, "-XMP-dc:Title=Embedded title", "-XMP-xmp:Rating=5")
    heic = rf.heic_like_a_phone(upright, 1, lib / "phone.heic")
    rf.exif(heic, "-XMP-exif:GPSLatitude=47.3769", "-XMP-exif:GPSLongitude=8.5417", "-XMP-dc:Subject=zurich")
    jpg = lib / "DSC_0001.jpg"
    rf.run("convert", upright, jpg)
    rf.run(
        "exiftool", "-q", "-XMP-dc:Subject=darktable", "-XMP-photoshop:DateCreated=2022:08:01 12:00:00+09:00",
        "-o", lib / "DSC_0001.jpg.xmp",
    )  # fmt: skip  # darktable's name for it
    embedded = lib / "phone.jpg"
    rf.run("convert", upright, embedded)
    rf.exif(embedded, "-XMP-exif:GPSLatitude=-33.8568", "-XMP-exif:GPSLongitude=151.2153", "-XMP-xmp:Rating=-1")
    svc, _ = index(settings, shared_encoder, lib)
    assert (record(svc, png)["title"], record(svc, png)["rating"]) == ("Embedded title", 5)
    assert record(svc, png)["sources"]["title"] == "XMP (embedded)"
    h = record(svc, heic)
    assert h["gps"]["lat"] == pytest.approx(47.3769, abs=1e-4) and h["keywords"] == ["zurich"]
    d = record(svc, jpg)
    assert d["keywords"] == ["darktable"] and d["taken_at"] == "2022-08-01T12:00:00+09:00"
    assert d["taken_at_utc"] == "2022-08-01T03:00:00Z" and d["sources"]["taken_at"] == "XMP sidecar DSC_0001.jpg.xmp"
    e = record(svc, embedded)
    assert e["gps"]["lat"] == pytest.approx(-33.8568, abs=1e-4) and e["gps"]["lon"] == pytest.approx(151.2153, abs=1e-4)
    assert e["rating"] == -1 and e["place"]["city"] == "Sydney" and e["sources"]["gps"] == "XMP (embedded)"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&lol9;</dc:title></rdf:Description>
</rdf:RDF></x:xmpmeta>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&e;</dc:title></rdf:Description>
</rdf:RDF></x:xmpmeta>"""


def test_hostile_xmp_is_harmless(tmp_path: Path, upright: Path, settings: Settings, shared_encoder) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    lib.mkdir()
    a = lib / "laughs.jpg"
    rf.run("convert", upright, a)
    (lib / "laughs.xmp").write_bytes(BILLION_LAUGHS)
    b = lib / "external.jpg"
    Image.open(upright).convert("RGB").save(b, xmp=EXTERNAL)  # an embedded packet that names a local file
    c = lib / "embedded_laughs.png"
    Image.open(upright).save(c)
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", BILLION_LAUGHS.decode())
    Image.open(upright).save(c, pnginfo=info)
    t0 = time.monotonic()
    svc, report = index(settings, shared_encoder, lib)
    assert time.monotonic() - t0 < 60
    assert report["indexed"] == 3 and report["failed"] == 0
    for p in (a, b, c):
        rec = record(svc, p)
        assert rec["title"] is None
        assert "refused" in rec["notes"], rec["notes"]
        assert "root:" not in json.dumps(rec)


# -- time -------------------------------------------------------------------------------------------------
def test_two_cameras_in_two_time_zones_sort_by_the_moment_taken(
    tmp_path: Path, upright: Path, settings: Settings, shared_encoder
) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    lib.mkdir()
    zurich, new_york, undated = lib / "zurich.jpg", lib / "new_york.jpg", lib / "undated.jpg"
    for p in (zurich, new_york, undated):
        rf.run("convert", upright, p)
    # 10:00 in Zurich (+02:00) is 08:00 UTC; 04:30 in New York is 08:30 UTC by the GPS clock: later
    rf.exif(zurich, "-DateTimeOriginal=2023:07:01 10:00:00", "-OffsetTimeOriginal=+02:00")
    rf.exif(
        new_york, "-DateTimeOriginal=2023:07:01 04:30:00", "-GPSDateStamp=2023:07:01", "-GPSTimeStamp=08:29:12",
        "-GPSLatitude=40.7128", "-GPSLatitudeRef=N", "-GPSLongitude=74.006", "-GPSLongitudeRef=W",
    )  # fmt: skip
    svc, _ = index(settings, shared_encoder, lib)
    ny = record(svc, new_york)
    assert ny["taken_at"] == "2023-07-01T04:30:00-04:00" and ny["taken_at_utc"] == "2023-07-01T08:30:00Z"
    assert ny["sources"]["offset"] == "GPS time"
    zh = record(svc, zurich)
    assert zh["taken_at_utc"] == "2023-07-01T08:00:00Z" and zh["sources"]["offset"] == "EXIF OffsetTimeOriginal"
    ids = {record(svc, p)["id"]: p.name for p in (zurich, new_york, undated)}
    by_date = svc.search("a picture", k=10, sort="date")
    assert [ids[h.image.id] for h in by_date] == ["new_york.jpg", "zurich.jpg", "undated.jpg"]


# -- RAW --------------------------------------------------------------------------------------------------
def test_dng_is_decoded_upright_like_dcraw_with_its_exif(tmp_path: Path, upright: Path) -> None:
    p = rf.dng(upright, tmp_path / "IMG_0001.dng", orientation=6)
    rf.exif(p, "-DateTimeOriginal=2022:03:04 05:06:07", "-GPSLatitude=45.764", "-GPSLatitudeRef=N",
            "-GPSLongitude=4.8357", "-GPSLongitudeRef=E")  # fmt: skip
    reference = rf.dcraw_reference(p)
    assert reference.size == (150, 200) and corner_colours(reference) == UPRIGHT
    d = dec(p, min_side=150)
    assert (d.width, d.height) == (300, 400) and d.format == "RAW"
    assert corner_colours(d.image) == UPRIGHT
    assert mean_diff(d.image, reference) < 10
    assert d.exif.taken_at == "2022-03-04T05:06:07" and d.exif.lat == pytest.approx(45.764, abs=1e-4)
    assert d.orientation_applied == 6 and d.orientation_source == "RAW"
    assert "demosaiced by LibRaw" in d.notes[-1]


def test_raw_and_jpeg_of_one_shot_are_one_picture(
    tmp_path: Path, upright: Path, settings: Settings, shared_encoder
) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    lib.mkdir()
    raw = rf.dng(upright, lib / "DSC_0007.dng")
    jpg = lib / "DSC_0007.JPG"
    rf.run("convert", upright, jpg)
    alone = rf.dng(upright, lib / "DSC_0008.dng", orientation=8)
    rf.run("exiftool", "-q", "-XMP-xmp:Rating=3", "-o", lib / "DSC_0007.dng.xmp")  # darktable names it after the RAW
    svc, report = index(settings, shared_encoder, lib)
    assert report["indexed"] == 2 and report["failed"] == 0 and svc.catalog.count("indexed") == 2
    pair = record(svc, jpg)
    assert pair["companions"] == [str(raw)] and pair["rating"] == 3
    assert svc.catalog.get_by_path(str(raw)) is None
    single = record(svc, alone)
    assert single["format"] == "RAW" and (single["width"], single["height"]) == (300, 400)
    assert corner_colours(thumb(svc, single)) == UPRIGHT


SAMPLES = {
    "CanonRaw.cr2": ("Canon", "Canon EOS 350D DIGITAL", "2005-08-03T18:59:18"),
    "CanonRaw.cr3": ("Canon", "Canon EOS M50", "2018-02-21T12:08:56"),
    "Nikon.nef": ("NIKON CORPORATION", "NIKON D70", "2004-06-09T16:02:35"),
    "FujiFilm.raf": ("FUJIFILM", "FinePix S5Pro", "2007-05-22T13:58:30"),
    "Panasonic.rw2": ("Panasonic", "DMC-LX3", "2008-08-06T15:21:56"),
    "DNG.dng": ("Canon", "Canon EOS 350D DIGITAL", "2005-08-03T18:59:18"),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_camera_raw_metadata(tmp_path: Path, name: str) -> None:
    """Real cameras' files (ExifTool's samples): make, model, date; and GPS that exiftool writes into them,
    which for CR3 lands in its CMT4 box."""
    make, model, taken = SAMPLES[name]
    info = read_exif(open(rf.CAMERA / name, "rb"))
    assert (info.make, info.model, info.taken_at) == (make, model, taken)
    if name.endswith((".cr3", ".nef", ".cr2", ".dng")):
        p = tmp_path / name
        shutil.copy(rf.CAMERA / name, p)
        rf.exif(p, "-GPSLatitude=-33.8568", "-GPSLatitudeRef=S", "-GPSLongitude=151.2153", "-GPSLongitudeRef=E")
        info = read_exif(open(p, "rb"))
        assert (info.lat, info.lon) == (pytest.approx(-33.8568, abs=1e-4), pytest.approx(151.2153, abs=1e-4))


def test_camera_samples_index_or_fail_cleanly(tmp_path: Path, settings: Settings, shared_encoder) -> None:  # noqa: ANN001
    """ExifTool's samples carry cut-down image data: each is indexed or reported with a reason, never fatal."""
    lib = tmp_path / "lib"
    shutil.copytree(rf.CAMERA, lib)
    svc, report = index(settings, shared_encoder, lib)
    assert report["indexed"] + report["failed"] == len(SAMPLES)
    assert report["skipped_by_kind"] == {"video": 1, "edit file": 1}
    for e in report["errors"]:
        assert e["error"].startswith(("RAW file LibRaw cannot", "corrupt")), e


# -- not pictures ------------------------------------------------------------------------------------------
def test_live_photo_movie_edit_file_and_sidecar_are_skipped_not_broken(
    tmp_path: Path, upright: Path, settings: Settings, shared_encoder
) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    lib.mkdir()
    rf.heic_like_a_phone(upright, 6, lib / "IMG_0001.HEIC")
    shutil.copy(rf.CAMERA / "QuickTime.mov", lib / "IMG_0001.MOV")  # the Live Photo's movie
    shutil.copy(rf.CAMERA / "PLIST.aae", lib / "IMG_0001.AAE")
    shutil.copy(rf.CAMERA / "QuickTime.mov", lib / "holiday.mp4")
    rf.run("exiftool", "-q", "-XMP-xmp:Rating=1", "-o", lib / "IMG_0001.xmp")
    (lib / "notes.txt").write_text("shopping list")
    svc, report = index(settings, shared_encoder, lib)
    assert (report["indexed"], report["failed"], report["errors"]) == (1, 0, [])
    assert report["skipped_by_kind"] == {"live photo video": 1, "edit file": 1, "video": 1, "sidecar": 1, "other": 1}
    assert report["skipped"] == 5
    assert svc.catalog.count("error") == 0


# -- big scans and bombs -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_big_tiffs_stream_through_libvips(tmp_path: Path, upright: Path) -> None:
    """Past the decode budget (set tiny here; 256 MB by default), TIFFs are shrunk while read by libvips:
    a striped LZW TIFF, a tiled pyramid, a 16-bit one and a CMYK one, all upright and in sRGB."""
    big = tmp_path / "big.png"
    rf.run("convert", upright, "-resize", "1200x1600", big)
    made = {
        "strip.tif": ["tiffsave", big, tmp_path / "strip.tif", "--compression", "lzw"],
        "pyramid.tif": ["tiffsave", big, tmp_path / "pyramid.tif", "--tile", "--pyramid", "--compression", "jpeg"],
    }
    for args in made.values():
        rf.run("vips", *args)
    rf.run("convert", big, "-depth", "16", tmp_path / "deep.tif")
    rf.run("convert", big, "-profile", rf.GHOSTSCRIPT_ICC / "srgb.icc", "-profile",
           rf.GHOSTSCRIPT_ICC / "default_cmyk.icc", tmp_path / "cmyk.tif")  # fmt: skip
    cmyk_ref = tmp_path / "cmyk_ref.png"
    rf.run("convert", tmp_path / "cmyk.tif", "-profile", rf.GHOSTSCRIPT_ICC / "srgb.icc", cmyk_ref)
    for name in ("strip.tif", "pyramid.tif", "deep.tif", "cmyk.tif"):
        d = dec(tmp_path / name, min_side=224, min_long=400, big_bytes=1 << 20)
        assert (d.width, d.height) == (1200, 1600), name
        assert any("reduced while read by libvips" in n for n in d.notes), name
        assert 224 <= min(d.image.size) and max(d.image.size) >= 400 and max(d.image.size) < 800, (name, d.image.size)
        # SWOP's gamut has no pure green: the CMYK one is compared with ImageMagick's own sRGB rendering
        reference = Image.open(cmyk_ref if name == "cmyk.tif" else upright)
        assert corner_colours(d.image)[0] == "red" and mean_diff(d.image, reference) < 8, name
        if name != "cmyk.tif":
            assert corner_colours(d.image) == UPRIGHT, name


@pytest.mark.slow
def test_bomb_is_refused_but_a_big_scan_is_not(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    rf.run("vips", "black", bomb, 12000, 12000)  # 144 MP of nothing in a few hundred KB
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(ImageError, match="decompression bomb"):
        dec(bomb)
    scan = tmp_path / "scan.tif"
    rf.run("vips", "gaussnoise", tmp_path / "n.v", 9000, 6000)  # 54 MP of paper-like noise, not a bomb
    rf.run("vips", "tiffsave", tmp_path / "n.v", scan, "--compression", "deflate")
    d = dec(scan, min_side=224, big_bytes=16 << 20)
    assert (d.width, d.height) == (9000, 6000) and min(d.image.size) >= 224


# -- an existing collection, the preview, the CLI ------------------------------------------------------------
def test_a_catalog_from_the_older_reader_is_put_right(
    tmp_path: Path, upright: Path, settings: Settings, shared_encoder
) -> None:  # noqa: ANN001
    """Rows an older reader wrote (meta_version NULL): a HEIC it showed turned is re-embedded under a new id;
    a JPEG keeps its id and vector and gains what its sidecar says; a file it refused is tried again."""
    lib = tmp_path / "lib"
    lib.mkdir()
    heic = rf.heic_like_a_phone(upright, 6, lib / "IMG_0001.HEIC")
    jpg = lib / "IMG_0002.jpg"
    rf.run("convert", upright, jpg)
    bad = lib / "scan.tif"
    rf.run("convert", upright, bad)
    svc, _ = index(settings, shared_encoder, lib)
    h_id, j_id, b_id = (record(svc, p)["id"] for p in (heic, jpg, bad))
    turned = Path(record(svc, heic)["thumbnail"])  # what the older reader drew: the portrait on its side
    Image.open(turned).transpose(Image.Transpose.ROTATE_90).save(turned, "WEBP")
    rf.run("exiftool", "-q", "-XMP-xmp:Rating=5", "-o", lib / "IMG_0002.xmp")
    with svc.catalog.transaction() as t:
        t.execute("UPDATE images SET meta_version=NULL, orientation_applied=NULL, rating=NULL")
        t.execute("UPDATE images SET status='error', error='refused: too big' WHERE id=?", (b_id,))
        t.execute("DELETE FROM vectors WHERE image_id=?", (b_id,))
    svc.index.remove([b_id])
    report = svc.index_folders([lib]).to_dict()
    assert report["failed"] == 0 and report["indexed"] == 2 and report["unchanged"] == 1
    h, j, b = (record(svc, p) for p in (heic, jpg, bad))
    assert h["id"] != h_id and h["orientation_applied"] == 6 and corner_colours(thumb(svc, h)) == UPRIGHT
    assert j["id"] == j_id and j["rating"] == 5 and svc.index.reconstruct(j_id) is not None
    assert b["status"] == "indexed" and b["id"] != b_id
    assert svc.catalog.conn.execute("SELECT COUNT(*) FROM images WHERE meta_version IS NULL").fetchone()[0] == 0


def test_preview_and_full_image_show_what_the_phone_meant(
    tmp_path: Path, upright: Path, settings: Settings, shared_encoder
) -> None:  # noqa: ANN001
    import io

    from starlette.testclient import TestClient

    from app import create_app

    lib = tmp_path / "lib"
    lib.mkdir()
    p = rf.heic_like_a_phone(upright, 6, lib / "IMG_0042.HEIC")
    rf.exif(p, "-DateTimeOriginal=2024:06:01 18:30:00", "-OffsetTimeOriginal=+02:00")
    raw = rf.dng(upright, lib / "IMG_0042.dng")  # shot as RAW+HEIF: one picture
    rf.run("exiftool", "-q", "-XMP-xmp:Rating=4", "-XMP-dc:Subject=tower", "-o", lib / "IMG_0042.xmp")
    svc, _ = index(settings, shared_encoder, lib)
    rec = record(svc, p)
    client = TestClient(create_app(settings, services=svc), base_url="http://127.0.0.1")
    html = client.get("/preview", params={"id": rec["id"]}, headers={"HX-Request": "true"}).text
    assert "turned 90° clockwise (HEIF container)" in html
    assert "01 Jun 2024, 18:30 (UTC+02:00)" in html and "this computer" in html
    assert (
        f'title="{raw}"' in html
        and "IMG_0042.dng" in html
        and "IMG_0042.xmp" in html
        and "★★★★☆" in html
        and "tower" in html
    )
    full = Image.open(io.BytesIO(client.get(f"/full/{rec['id']}").content))
    assert full.size == (300, 400) and corner_colours(full) == UPRIGHT


def test_cli_reports_what_it_skipped_and_shows_times(
    tmp_path: Path, upright: Path, tiny_models: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from cli import main

    monkeypatch.setenv("STYLESEEK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STYLESEEK_MODELS_DIR", str(tiny_models))
    monkeypatch.setenv("STYLESEEK_DEVICE", "cpu")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    lib = tmp_path / "lib"
    lib.mkdir()
    p = lib / "a.jpg"
    rf.run("convert", upright, p)
    rf.exif(p, "-DateTimeOriginal=2023:07:01 10:00:00", "-OffsetTimeOriginal=+02:00")
    shutil.copy(rf.CAMERA / "QuickTime.mov", lib / "clip.mov")
    assert main(["index", str(lib), "-q"]) == 0
    assert "not pictures, skipped: 1 video" in capsys.readouterr().out
    assert main(["info", str(p)]) == 0
    assert "01 Jul 2023, 10:00 (UTC+02:00)" in capsys.readouterr().out
    assert main(["info", str(p), "--time", "here"]) == 0
    assert "01 Jul 2023, 08:00 (this computer's time, UTC)" in capsys.readouterr().out
    assert main(["search", "anything", "--sort", "date"]) == 0
    assert "01 Jul 2023, 10:00 (UTC+02:00)" in capsys.readouterr().out


def test_jpeg_2000_is_decoded_at_the_resolution_level_needed(tmp_path: Path, upright: Path) -> None:
    src = tmp_path / "big.png"
    rf.run("convert", upright, "-resize", "1200x1600", src)
    p = tmp_path / "archive.jp2"
    rf.run("convert", src, "-depth", "8", p)  # ImageMagick through OpenJPEG
    assert rf.run("exiftool", "-s3", "-FileType", "-BitsPerComponent", p).split()[:2] == ["JP2", "8"]
    d = dec(p, min_side=224, min_long=400)
    assert d.format == "JPEG2000" and (d.width, d.height) == (1200, 1600)
    assert d.image.size == (300, 400)  # two of the codestream's resolution levels skipped, nothing more
    assert corner_colours(d.image) == UPRIGHT and mean_diff(d.image, Image.open(upright)) < 6
    assert d.notes == []
    # 16-bit colour: Pillow's decoder wraps the brightest values to black (its red reads 0 here): said, not hidden
    deep = tmp_path / "deep.jp2"
    rf.run("convert", src, "-depth", "16", deep)
    assert "16" in rf.run("exiftool", "-s3", "-BitsPerComponent", deep)
    assert any("16-bit colour JPEG 2000" in n for n in dec(deep, min_side=224).notes)


def test_a_raws_embedded_preview_is_used_when_big_enough(tmp_path: Path) -> None:
    """A Panasonic RW2 (a real camera's file) whose JpgFromRaw exiftool replaces with a 1600x1200 picture: that
    preview is what gets decoded (no demosaicing), at the RAW's size and orientation, with the RAW's EXIF."""
    scene = rf.scene(tmp_path / "landscape.png", 400, 300)
    preview = tmp_path / "preview.jpg"
    rf.run("convert", scene, "-resize", "1600x1200", preview)
    p = tmp_path / "P1000001.RW2"
    shutil.copy(rf.CAMERA / "Panasonic.rw2", p)
    rf.exif(p, f"-JpgFromRaw<={preview}")
    d = dec(p, min_side=224, min_long=400)
    assert any("embedded preview" in n for n in d.notes), d.notes
    assert (d.width, d.height) == (3664, 2754) and d.exif.model == "DMC-LX3"
    assert corner_colours(d.image) == UPRIGHT and mean_diff(d.image, Image.open(scene)) < 6
    # asked for more than the preview holds, LibRaw demosaics the sensor data instead (cut down in this sample)
    big = dec(p, min_side=1400, min_long=2000)
    assert any("demosaiced by LibRaw" in n for n in big.notes) and (big.width, big.height) == (3664, 2754)
