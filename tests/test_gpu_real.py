"""The GPU path on the GPU (issue 13): nvImageCodec's hardware decoder and the Indexer's GPU stage on JPEGs made
by real tools (ImageMagick, exiftool, cjpeg: 4:2:0 and 4:4:4, progressive, grey, restart markers, odd sizes,
EXIF orientations, a file cut short), against Pillow and the CPU path on the same files. Skipped without CUDA
and nvImageCodec, so in CI; run on the GPU machine (BENCHMARKS.md has the command and what it printed). That
machine has no ImageMagick or exiftool: the files are made here first and carried,

    python -m tests.test_gpu_real bench/out/gpu-real      # here
    STYLESEEK_GPU_TEST_FILES=bench/out/gpu-real python3 -m pytest -q tests/test_gpu_real.py   # there
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps


def _gpu() -> bool:
    try:
        import torch
        from nvidia import nvimgcodec  # noqa: F401
    except ImportError:
        return False
    return torch.cuda.is_available()


pytestmark = pytest.mark.skipif(not _gpu(), reason="needs CUDA and nvImageCodec: run on the GPU machine")


def make_files(folder: Path) -> Path:
    """The test JPEGs, made by ImageMagick, exiftool and cjpeg from one drawn scene."""
    from tests.realfiles import exif, run, scene, stored

    folder.mkdir(parents=True, exist_ok=True)
    up = scene(folder / "scene.png", 480, 360)
    run("convert", up, "-quality", "90", "-sampling-factor", "2x2", folder / "base420.jpg")
    run("convert", up, "-quality", "90", "-sampling-factor", "1x1", folder / "base444.jpg")
    run("convert", up, "-quality", "90", "-interlace", "JPEG", folder / "progressive.jpg")
    run("convert", up, "-quality", "90", "-colorspace", "Gray", folder / "gray.jpg")
    run("convert", up, "-resize", "481x359!", "-quality", "85", folder / "odd.jpg")
    for o in (3, 6, 8):
        exif(stored(up, o, folder / f"orient{o}.jpg"), f"-Orientation#={o}")
    if shutil.which("cjpeg"):
        run("convert", up, folder / "scene.ppm")
        made = subprocess.run(  # cjpeg writes to stdout: bytes, which tests.realfiles.run (text) does not keep
            ["cjpeg", "-restart", "2", "-quality", "90", str(folder / "scene.ppm")], capture_output=True, check=True
        )
        (folder / "restart.jpg").write_bytes(made.stdout)
        (folder / "scene.ppm").unlink()
    data = (folder / "base420.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) * 6 // 10])
    (folder / "scene.png").unlink()
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("STYLESEEK_GPU_TEST_FILES")
    if given:
        return Path(given)
    return make_files(tmp_path_factory.mktemp("gpu-real"))


GPU_DECODED = ("base420.jpg", "orient3.jpg", "orient6.jpg")  # a phone's everyday JPEGs: the hardware engine's


def pillow(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"), np.int16)


def test_the_hardware_decoder_reads_real_files_as_pillow_does(files: Path) -> None:
    """Each file the GPU path sends to the decoder comes out as Pillow reads it (EXIF orientation applied), or
    is refused (it then goes through the CPU path); the phone's everyday JPEG is decoded on the GPU."""
    from indexing.gpu import GpuDecoder, cpu_reason

    dec = GpuDecoder()
    dec.warm()
    outcome: dict[str, str] = {}
    for path in sorted(files.glob("*.jpg")):
        data = path.read_bytes()
        if (why := cpu_reason(data)) is not None:
            outcome[path.name] = f"CPU path: {why}"
            continue
        got = dec.decode([data])[0]
        if got is None:
            outcome[path.name] = "refused: CPU path"
            continue
        want = pillow(path)
        have = got.cpu().numpy().astype(np.int16)
        assert have.shape == want.shape, (path.name, have.shape, want.shape)  # EXIF orientation applied
        diff = np.abs(have - want)
        outcome[path.name] = f"GPU: mean |diff| {diff.mean():.2f}, 99th percentile {np.percentile(diff, 99):.0f}"
        # IDCT and chroma upsampling differ between nvJPEG and libjpeg-turbo by a level or two, more at edges
        assert float(diff.mean()) < 3.0 and float(np.percentile(diff, 99)) < 32, (path.name, outcome[path.name])
    print("\n".join(f"{k}: {v}" for k, v in outcome.items()))
    assert outcome["truncated.jpg"].startswith("CPU path: no end marker")
    assert all(outcome[f].startswith("GPU") for f in GPU_DECODED), outcome
    if not dec.progressive:  # what the Indexer assumes when it sends them to the CPU path up front
        assert outcome["progressive.jpg"] == "refused: CPU path", outcome


def test_the_indexers_gpu_path_on_real_files_matches_the_cpu_path(
    files: Path, settings, shared_encoder, shared_style_encoders, tmp_path: Path
) -> None:  # noqa: ANN001
    from indexing.gpu import GpuDecoder
    from services import StyleSeek
    from settings import Settings

    lib = tmp_path / "lib"
    shutil.copytree(files, lib)
    cpu = StyleSeek(settings, content_encoder=shared_encoder, style_encoders=shared_style_encoders)
    cpu_report = cpu.index_folders([lib])
    gpu = StyleSeek(
        Settings(**{**settings.model_dump(), "data_dir": tmp_path / "gpu-data", "content_first": "off"}),
        content_encoder=shared_encoder,
        style_encoders=shared_style_encoders,
    )
    report = gpu.indexer(gpu=GpuDecoder()).run([lib])
    assert (report.indexed, report.failed) == (cpu_report.indexed, cpu_report.failed)
    assert report.failed == 1  # the file cut short, in both
    for path in sorted(lib.glob("*.jpg")):
        a, b = cpu.image_by_path(path), gpu.image_by_path(path)
        if path.name == "truncated.jpg":
            assert b is None or b.status == "error", "the GPU path indexed a JPEG cut short"
            continue
        assert (b.width, b.height, b.orientation_applied) == (a.width, a.height, a.orientation_applied), path.name
        thumb = gpu.thumbs.read(b.hash)
        assert thumb is not None, path.name
        # the GPU encoder's JPEG; WebP where the decoder refused the file (the CPU path made it)
        assert thumb[:3] == b"\xff\xd8\xff" or (thumb[:4] == b"RIFF" and path.name not in GPU_DECODED), path.name
        with Image.open(io.BytesIO(thumb)) as im:
            assert (im.width > im.height) == (b.width > b.height), path.name
        for space in ("content", "style", "texture"):
            va, vb = cpu.vector_index(space).reconstruct(a.id), gpu.vector_index(space).reconstruct(b.id)
            assert float(va @ vb) > 0.99, (path.name, space)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(make_files(Path(sys.argv[1])))
