"""The GPU indexing path's decisions and tensor work, on the CPU (CI has no GPU): which JPEGs go to the GPU
decoder, read from headers of files made by ImageMagick and cjpeg, and the batched resizes against the CPU
path's own preprocessing on the same pixels."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexing.gpu import cpu_reason, jpeg_header
from indexing.gpu_resize import model_inputs, thumbnails
from models.clip_io import clip_preprocess
from models.specs import OPENAI_MEAN, OPENAI_STD
from tests.realfiles import GHOSTSCRIPT_ICC, run, scene


@pytest.fixture(scope="module")
def upright(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene(tmp_path_factory.mktemp("gpu") / "scene.png", 320, 240)


def made(upright: Path, tmp: Path, name: str, *options: str) -> bytes:
    out = tmp / name
    run("convert", upright, *options, out)
    return out.read_bytes()


def test_which_jpegs_the_gpu_decoder_takes(upright: Path, tmp_path: Path) -> None:
    baseline = made(upright, tmp_path, "base.jpg", "-quality", "90")
    h = jpeg_header(baseline)
    assert (h.width, h.height, h.components, h.precision, h.progressive, h.icc) == (320, 240, 3, 8, False, False)
    assert cpu_reason(baseline) is None
    progressive = made(upright, tmp_path, "prog.jpg", "-interlace", "JPEG")
    # sent to the decoder: the H100's hardware engine refuses them, and the CPU path takes them
    assert jpeg_header(progressive).progressive and cpu_reason(progressive) is None
    assert "progressive" in cpu_reason(progressive, progressive=False)  # the engine alone: the CPU path up front
    assert cpu_reason(made(upright, tmp_path, "gray.jpg", "-colorspace", "Gray")) is None
    assert "CMYK" in cpu_reason(made(upright, tmp_path, "cmyk.jpg", "-colorspace", "CMYK"))
    icc = made(upright, tmp_path, "p3.jpg", "-profile", str(GHOSTSCRIPT_ICC / "a98.icc"))
    assert jpeg_header(icc).icc and "ICC" in cpu_reason(icc)
    assert "cut short" in cpu_reason(baseline[: len(baseline) * 6 // 10])  # the hardware decoder fills it grey
    assert cpu_reason(baseline + b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8) is None  # a motion photo
    assert cpu_reason((upright).read_bytes()) == "not a JPEG"
    assert cpu_reason(b"\xff\xd8\xff\xe0\x00") == "not a JPEG"  # cut short before its frame header
    # a 200-MP scan's header (the frame's size fields of a real JPEG set to 20000 x 10000): decoded on the CPU
    i = baseline.index(b"\xff\xc0")
    big = baseline[: i + 5] + struct.pack(">HH", 10000, 20000) + baseline[i + 9 :]
    assert "200 MP" in cpu_reason(big)


def test_arithmetic_coded_jpegs_go_to_the_cpu(upright: Path, tmp_path: Path) -> None:
    ppm = tmp_path / "scene.ppm"
    run("convert", upright, ppm)
    import shutil
    import subprocess

    if not shutil.which("cjpeg"):
        pytest.skip("cjpeg is not installed: apt-get install libjpeg-turbo-progs")
    out = subprocess.run(["cjpeg", "-arithmetic", str(ppm)], capture_output=True, check=True).stdout
    assert jpeg_header(out).arithmetic and cpu_reason(out) == "arithmetic-coded JPEG"


def test_batched_model_inputs_match_the_cpu_preprocessing(upright: Path) -> None:
    """The GPU path's resize and crop (run here on CPU tensors) against open_clip's transform on the same
    decoded pixels: what differs is only bicubic in torch vs Pillow."""
    import torch

    pictures = [Image.open(upright).convert("RGB"), Image.open(upright).convert("RGB").rotate(90, expand=True)]
    pictures.append(pictures[0].resize((300, 225)))
    pictures.append(pictures[0].resize((2000, 1500), Image.Resampling.BICUBIC))  # box-reduced first, by 3
    tensors = [torch.from_numpy(np.asarray(p).copy()) for p in pictures]
    got = model_inputs(tensors, 224, OPENAI_MEAN, OPENAI_STD).numpy()
    cpu = clip_preprocess(224, OPENAI_MEAN, OPENAI_STD)
    for g, p in zip(got, pictures, strict=True):
        want = cpu(p)
        assert g.shape == want.shape == (3, 224, 224)
        cos = float((g.ravel() @ want.ravel()) / np.linalg.norm(g) / np.linalg.norm(want))
        assert cos > 0.999 and float(np.abs(g - want).mean()) < 0.03
    thumbs = thumbnails(tensors, 160)
    assert [tuple(t.shape) for t in thumbs] == [(120, 160, 3), (160, 120, 3), (120, 160, 3), (120, 160, 3)]
    ref = np.asarray(pictures[0].resize((160, 120), Image.Resampling.BILINEAR), np.float32)
    assert float(np.abs(thumbs[0].numpy().astype(np.float32) - ref).mean()) < 4


def jpegs(folder: Path, sizes: list[tuple[int, int]], options: list[list[str]] | None = None) -> Path:
    """Scenes written as JPEGs by ImageMagick, s0.jpg, s1.jpg, ... in `folder` (made): one a size, each with its
    convert options (quality 90 by default)."""
    folder.mkdir()
    for i, (w, h) in enumerate(sizes):
        scene(folder / f"s{i}.png", w, h)
        run("convert", folder / f"s{i}.png", *(options[i] if options else ["-quality", "90"]), folder / f"s{i}.jpg")
        (folder / f"s{i}.png").unlink()
    return folder


class PillowStandIn:
    """GpuDecoder's interface on the CPU, so that the Indexer's GPU branch runs in CI: Pillow decodes files' bytes
    or paths (EXIF orientation applied, as nvImageCodec does), CPU tensors come out, and every third file is
    refused, as the GPU decoder may refuse one."""

    def __init__(self, threads: int = 1) -> None:
        """threads: decode threads expected to call at once; the first calls wait (up to 10 s) until that many
        have come, so that a test sees them all whatever the machine's load."""
        import threading

        self.seen = 0
        self.batches: list[int] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()  # decode threads may call at once
        self._expected, self._all_in = threads, threading.Event()

    def decode(self, blobs: list[bytes], reuse: bool = False) -> list:
        import io
        import threading
        import time

        import torch
        from PIL import ImageOps

        with self._lock:
            self.threads.add(threading.current_thread().name)
            if len(self.threads) >= self._expected:
                self._all_in.set()
        self._all_in.wait(10)
        out = []
        for b in blobs:
            with self._lock:
                self.seen += 1
                refused = self.seen % 3 == 0
            im = ImageOps.exif_transpose(Image.open(b if isinstance(b, str) else io.BytesIO(b))).convert("RGB")
            out.append(None if refused else torch.from_numpy(np.asarray(im).copy()))
        time.sleep(0.05)  # as a GPU batch takes a while
        with self._lock:
            self.batches.append(len(blobs))
        return out


@pytest.mark.parametrize(("decode_threads", "gpu_jpegs"), [(1, False), (2, False), (1, True), (2, True)])
def test_the_indexer_gpu_branch_matches_the_cpu_path(
    settings,
    shared_encoder,
    shared_style_encoders,
    tmp_path: Path,
    monkeypatch,
    decode_threads: int,
    gpu_jpegs: bool,
) -> None:  # noqa: ANN001
    import indexing.gpu_stage
    from services import StyleSeek
    from settings import Settings
    from tests.imagegen import make_collection
    from tests.realfiles import exif, stored

    lib = tmp_path / "mixed"
    make_collection(lib, 12, size=(160, 120))  # JPEG, PNG, WebP in nested folders
    up = scene(tmp_path / "up.png", 200, 150)
    exif(stored(up, 6, lib / "portrait.jpg"), "-Orientation#=6")  # a phone's portrait: turned by EXIF
    run("convert", up, "-colorspace", "CMYK", lib / "cmyk.jpg")  # the CPU path's: no GPU for CMYK
    cpu = StyleSeek(settings, content_encoder=shared_encoder, style_encoders=shared_style_encoders)
    cpu.index_folders([lib])
    gpu = StyleSeek(
        Settings(
            **{**settings.model_dump(), "data_dir": tmp_path / "gpu-data", "batch_size": 4, "content_first": "off"}
        ),
        content_encoder=shared_encoder,
        style_encoders=shared_style_encoders,
    )
    monkeypatch.setattr(indexing.gpu_stage, "DECODE_THREADS", decode_threads)
    monkeypatch.setattr(indexing.gpu_stage, "GPU_JPEG_THUMBS", gpu_jpegs)  # the GPU's encoder, in a thread of its own
    stand_in = (JpegStandIn if gpu_jpegs else PillowStandIn)(decode_threads)
    report = gpu.indexer(gpu=stand_in).run([lib])
    assert (report.indexed, report.failed) == (14, 0)
    jpegs = [p for p in lib.rglob("*.jpg") if p.name != "cmyk.jpg"]
    assert stand_in.seen == len(jpegs) and max(stand_in.batches) <= 4  # only the JPEGs it may take, in batches
    assert (getattr(stand_in, "encoded", 0) > 0) == gpu_jpegs  # thumbnails by its encoder only when asked
    assert len(stand_in.threads) == decode_threads  # batches decoded at once, each thread ending in turn
    for path in sorted(lib.rglob("*.*")):
        a, b = cpu.image_by_path(path), gpu.image_by_path(path)
        assert (b.width, b.height, b.orientation_applied, b.taken_at, b.gps) == (
            a.width, a.height, a.orientation_applied, a.taken_at, a.gps
        ), path  # fmt: skip
        thumb = gpu.thumbs.read(b.hash)
        assert thumb is not None
        if path.suffix == ".jpg" and thumb[:4] != b"RIFF":  # the GPU path's (the CPU path's are WebP)
            tw, th = Image.open(io.BytesIO(thumb)).size
            assert thumb[:3] == b"\xff\xd8\xff" and max(tw, th) == min(settings.thumbnail_size, max(b.width, b.height))
            assert (tw > th) == (b.width > b.height), path  # upright, as the picture
        for space in ("content", "style", "texture"):
            va, vb = cpu.vector_index(space).reconstruct(a.id), gpu.vector_index(space).reconstruct(b.id)
            assert float(va @ vb) > 0.99, (path.name, space)
    portrait = gpu.image_by_path(lib / "portrait.jpg")
    assert (portrait.width, portrait.height) == (200, 150)  # upright, as the scene was drawn


class FailingStandIn(PillowStandIn):
    """A decoder whose second batch fails as a whole (as GPU memory running out would): that batch goes through
    the CPU path, the run goes on."""

    def decode(self, blobs: list[bytes], reuse: bool = False) -> list:
        if len(self.batches) == 1:
            self.batches.append(-len(blobs))
            raise RuntimeError("CUDA out of memory (simulated)")
        return super().decode(blobs)


def test_a_failed_gpu_batch_goes_through_the_cpu_path_and_batches_split_by_pixels(
    settings, shared_encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    import indexing.gpu
    from services import StyleSeek
    from settings import Settings

    lib = jpegs(tmp_path / "jpegs", [(200 + 8 * i, 150) for i in range(9)])
    # 200x150 .. 264x150 pixels: every three of them pass 90,000, so a batch closes at 3 pictures, not at 8
    monkeypatch.setattr(indexing.gpu, "GPU_BATCH_PIXELS", 90_000)
    svc = StyleSeek(
        Settings(**{**settings.model_dump(), "batch_size": 8, "content_first": "off"}), content_encoder=shared_encoder
    )
    stand_in = FailingStandIn()
    report = svc.indexer(gpu=stand_in).run([lib])
    assert (report.indexed, report.failed) == (9, 0)
    assert stand_in.batches[0] == 3 and stand_in.batches[1] == -3  # the second batch failed whole
    reference = shared_encoder.encode_images([Image.open(p).convert("RGB") for p in sorted(lib.glob("*.jpg"))])
    for p, ref in zip(sorted(lib.glob("*.jpg")), reference, strict=True):
        rec = svc.image_by_path(p)
        assert rec is not None and svc.thumbs.read(rec.hash) is not None
        assert float(svc.vector_index("content").reconstruct(rec.id) @ ref) > 0.99, p.name


class _Stream:
    """What a CodeStream is to the stage: an object holding the file's bytes or path."""

    def __init__(self, data: bytes | str) -> None:
        self.data = data


class StreamStandIn(PillowStandIn):
    """A decoder that wraps files as its own CodeStreams (code_stream), failing to wrap every fourth one, and
    records what its decode calls were given and in which thread the wrapping ran."""

    def __init__(self) -> None:
        super().__init__()
        self.given: list[str] = []
        self.wrapped_in: set[str] = set()
        self.tries = 0

    def code_stream(self, data: bytes | str) -> _Stream:
        import threading

        self.wrapped_in.add(threading.current_thread().name)
        self.tries += 1
        if self.tries % 4 == 0:
            raise ValueError("cannot wrap this one")
        return _Stream(data)

    def decode(self, blobs: list, reuse: bool = False) -> list:
        self.given.extend(type(b).__name__ for b in blobs)
        return super().decode([b.data if isinstance(b, _Stream) else b for b in blobs])


@pytest.mark.parametrize("code_streams", [True, False])
def test_the_stage_hands_the_decoder_code_streams_made_off_its_thread(
    settings, shared_encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code_streams: bool
) -> None:  # noqa: ANN001
    import indexing.gpu_stage
    from services import StyleSeek
    from settings import Settings

    lib = jpegs(tmp_path / "jpegs", [(200 + 8 * i, 150) for i in range(8)])
    monkeypatch.setattr(indexing.gpu_stage, "CODE_STREAMS", code_streams)
    svc = StyleSeek(
        Settings(**{**settings.model_dump(), "batch_size": 4, "content_first": "off"}), content_encoder=shared_encoder
    )
    stand_in = StreamStandIn()
    report = svc.indexer(gpu=stand_in).run([lib])
    assert (report.indexed, report.failed) == (8, 0)
    if code_streams:  # wrapped on the main thread as they were handed over; one in four could not be: the CPU path
        assert stand_in.given == ["_Stream"] * 6
        assert stand_in.wrapped_in == {"MainThread"}
    else:  # the files' paths: the probe processes read them, the decoder reads them again
        assert stand_in.given == ["str"] * 8 and not stand_in.wrapped_in
    reference = shared_encoder.encode_images([Image.open(p).convert("RGB") for p in sorted(lib.glob("*.jpg"))])
    for p, ref in zip(sorted(lib.glob("*.jpg")), reference, strict=True):
        rec = svc.image_by_path(p)
        assert rec is not None and float(svc.vector_index("content").reconstruct(rec.id) @ ref) > 0.99, p.name


def test_towers_take_a_tensor_batch_as_they_take_arrays(shared_encoder) -> None:  # noqa: ANN001
    """The GPU stage feeds the towers the tensors it made, where they lie: the same embeddings as arrays give."""
    import torch

    rng = np.random.default_rng(3)
    size = shared_encoder.input_size
    x = rng.standard_normal((3, 3, size, size)).astype(np.float32)
    np.testing.assert_allclose(
        shared_encoder.encode_batch(torch.from_numpy(x)), shared_encoder.encode_prepared(list(x)), atol=1e-5
    )


class JpegStandIn(PillowStandIn):
    """The stand-in with the GPU decoder's JPEG encoder (Pillow here): thumbnails come back as JPEG bytes."""

    def __init__(self, threads: int = 1) -> None:
        super().__init__(threads)
        self.encoded = 0

    def encode_jpeg(self, images: list) -> list:
        import io

        out = []
        for t in images:
            buf = io.BytesIO()
            Image.fromarray(t.numpy()).save(buf, "JPEG", quality=85)
            out.append(buf.getvalue())
        self.encoded += len(images)
        return out


class EngineStandIn(PillowStandIn):
    """A decoder that, as the hardware JPEG engine, takes no progressive JPEGs."""

    progressive = False


def test_progressive_jpegs_skip_a_decoder_that_refuses_them(settings, shared_encoder, tmp_path: Path) -> None:  # noqa: ANN001
    """Sent to the CPU path up front: a refused file would cost its batch the reuse of the decoder's buffers."""
    from services import StyleSeek
    from settings import Settings

    lib = jpegs(tmp_path / "jpegs", [(200, 150)] * 3, [["-quality", "90"], ["-interlace", "JPEG"], ["-quality", "80"]])
    svc = StyleSeek(Settings(**{**settings.model_dump(), "content_first": "off"}), content_encoder=shared_encoder)
    stand_in = EngineStandIn()
    report = svc.indexer(gpu=stand_in).run([lib])
    assert (report.indexed, report.failed) == (3, 0)
    assert stand_in.seen == 2  # the two baseline JPEGs; the progressive one went through the CPU path
    assert svc.thumbs.read(svc.image_by_path(lib / "s1.jpg").hash)[:4] == b"RIFF"  # the CPU path's WebP


class DyingStandIn(PillowStandIn):
    """A decoder whose JPEG encoder dies with more than an Exception, after its batch went to the towers."""

    def encode_jpeg(self, images: list) -> list:
        raise SystemExit("the encoder died (simulated)")


def test_a_stage_that_dies_after_handing_a_batch_on_fails_the_run_without_hanging(
    settings, shared_encoder, tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    import threading

    import indexing.gpu_stage

    monkeypatch.setattr(indexing.gpu_stage, "GPU_JPEG_THUMBS", True)  # the JPEG thread, and its encoder dies

    from services import StyleSeek
    from settings import Settings

    lib = jpegs(tmp_path / "jpegs", [(200, 150)] * 3)
    svc = StyleSeek(Settings(**{**settings.model_dump(), "content_first": "off"}), content_encoder=shared_encoder)
    got: list[BaseException] = []

    def index() -> None:
        try:
            svc.indexer(gpu=DyingStandIn()).run([lib])
        except BaseException as e:  # noqa: BLE001 - what the run ends with is the test's subject
            got.append(e)

    t = threading.Thread(target=index, daemon=True)
    t.start()
    t.join(120)
    assert not t.is_alive(), "the run hung on the towers' wait for the thumbnails"
    assert got and "GPU indexing stage failed" in str(got[0])


class TimedStandIn(PillowStandIn):
    def decode(self, blobs: list[bytes], reuse: bool = False) -> list:
        import time

        self.first = getattr(self, "first", time.perf_counter())
        return super().decode(blobs, reuse)


@pytest.mark.parametrize("while_decoding", [True, False])
def test_the_towers_graphs_are_made_once_before_the_towers_run(
    settings, shared_encoder, shared_style_encoders, tmp_path: Path, monkeypatch, while_decoding: bool
) -> None:  # noqa: ANN001
    """The GPU stage captures each tower's graph once, at the run's batch size: in the towers' thread before its
    first batch, while the decode thread decodes (GRAPHS_WHILE_DECODING), or else as the stage starts, before
    the first decode. A capture that fails leaves its tower as it is, with a warning, and the run goes on."""
    import threading
    import time

    import indexing.gpu_stage
    import models.base
    from services import StyleSeek
    from settings import Settings

    lib = jpegs(tmp_path / "jpegs", [(200, 150)] * 5)
    captured: list[tuple[str, str, int, float]] = []

    def capture(self: models.base.Encoder, n: int) -> None:
        time.sleep(0.2)  # as a capture takes a while: the stage must wait for it
        captured.append((self.spec.key, threading.current_thread().name, n, time.perf_counter()))
        if self.spec.key == "style":
            raise RuntimeError("out of memory (a stand-in)")

    monkeypatch.setattr(models.base.Encoder, "capture", capture)
    monkeypatch.setattr(indexing.gpu_stage, "GRAPHS_WHILE_DECODING", while_decoding)
    encode = models.base.Encoder.encode_batch
    towers: list[float] = []
    monkeypatch.setattr(
        models.base.Encoder, "encode_batch", lambda *a: towers.append(time.perf_counter()) or encode(*a)
    )
    warned: list[str] = []  # (the module's logger: other tests may have cut its propagation to pytest's handler)
    monkeypatch.setattr(indexing.gpu_stage.log, "warning", lambda msg, *args: warned.append(msg % args))
    svc = StyleSeek(
        Settings(**{**settings.model_dump(), "batch_size": 4, "content_first": "off"}),
        content_encoder=shared_encoder,
        style_encoders=shared_style_encoders,
    )
    stand_in = TimedStandIn()
    report = svc.indexer(gpu=stand_in).run([lib])
    assert (report.indexed, report.failed) == (5, 0)
    thread = "gpu-towers" if while_decoding else "MainThread"
    assert sorted(c[:3] for c in captured) == [(s, thread, 4) for s in ("content", "style", "texture")]
    assert max(c[3] for c in captured) < min(towers)
    if not while_decoding:
        assert max(c[3] for c in captured) < stand_in.first
    assert warned == ["no CUDA graph of the style tower (out of memory (a stand-in)): it runs without"]


def test_a_smaller_gpu_decodes_fewer_pixels_a_call() -> None:
    """Decoded batches are bounded by the GPU's memory: a card of 8 GiB decodes ~24 12-MP photos a call (a
    batch closes at the picture that passes the bound), 24 GB and more the full 64; off CUDA, the fixed bound."""
    from indexing.gpu import GPU_BATCH_PIXELS, batch_pixels, gpu_memory
    from indexing.gpu_stage import BUFFERS

    twelve_mp = 4000 * 3000
    assert batch_pixels(8 << 30, BUFFERS) // twelve_mp + 1 == 24
    assert (
        batch_pixels(24 << 30, BUFFERS)
        == batch_pixels(80 << 30, BUFFERS)
        == batch_pixels(None, BUFFERS)
        == GPU_BATCH_PIXELS
    )
    assert batch_pixels(8 << 30, BUFFERS) * 3 * BUFFERS < (8 << 30) / 3  # the decoder's buffer sets in a third
    assert gpu_memory(PillowStandIn()) is None


class BrokenJpegStandIn(PillowStandIn):
    """A decoder whose JPEG encoder fails: the stage turns to Pillow for the rest of the run."""

    def encode_jpeg(self, images: list) -> list:
        raise RuntimeError("nvjpeg encoder: out of memory (simulated)")


@pytest.mark.parametrize(
    ("decoder", "gpu_jpegs"),
    [(JpegStandIn, True), (JpegStandIn, False), (PillowStandIn, True), (BrokenJpegStandIn, True)],
)
def test_the_gpu_paths_thumbnails_are_jpeg_and_served_as_such(
    settings, shared_encoder, tmp_path: Path, monkeypatch, decoder, gpu_jpegs: bool
) -> None:  # noqa: ANN001
    """JPEGs of the picture the GPU stage resized: by the CPU threads' encoder (the default), by the decoder's
    JPEG encoder where GPU_JPEG_THUMBS asks for it, or by the CPU threads where it has none or it fails; the
    CPU path's stay WebP."""
    from starlette.testclient import TestClient

    import indexing.gpu_stage

    monkeypatch.setattr(indexing.gpu_stage, "GPU_JPEG_THUMBS", gpu_jpegs)

    from app import create_app
    from services import StyleSeek
    from settings import Settings

    lib = jpegs(tmp_path / "jpegs", [(240, 180 + 4 * i) for i in range(4)])
    scene(lib / "kept.png", 200, 150)  # the CPU path's: a WebP thumbnail
    s = Settings(**{**settings.model_dump(), "content_first": "off"})
    svc = StyleSeek(s, content_encoder=shared_encoder)
    stand_in = decoder()
    report = svc.indexer(gpu=stand_in).run([lib])
    assert (report.indexed, report.failed) == (5, 0)
    assert getattr(stand_in, "encoded", 3) == (3 if gpu_jpegs else 0)  # 4 JPEGs, every third refused
    client = TestClient(create_app(s, services=svc), base_url="http://127.0.0.1")
    for p in sorted(lib.iterdir()):
        row = svc.image_by_path(p)
        thumb = svc.thumbs.read(row.hash)
        kind = "image/webp" if p.suffix == ".png" else "image/jpeg"
        refused = p.suffix == ".jpg" and thumb is not None and thumb[:4] == b"RIFF"  # every third: the CPU path
        assert svc.thumbs.path(row.hash).suffix == (".webp" if kind == "image/webp" or refused else ".jpg")
        r = client.get(f"/thumb/{row.id}")
        assert r.status_code == 200 and r.headers["content-type"] == ("image/webp" if refused else kind), p.name
        with Image.open(__import__("io").BytesIO(r.content)) as im:
            assert max(im.size) <= s.thumbnail_size and im.size[0] > im.size[1]
    # a thumbnail redrawn by the other path replaces the first: one file per content
    row = svc.image_by_path(lib / "s0.jpg")
    svc.thumbs.write(row.hash, svc.thumbs.read(svc.image_by_path(lib / "kept.png").hash))
    assert len(list(svc.thumbs.root.glob(f"*/{row.hash}.*"))) == 1


@pytest.mark.parametrize("simplejpeg", [True, False])
def test_the_cpu_threads_thumbnail_jpegs(upright: Path, tmp_path: Path, monkeypatch, simplejpeg: bool) -> None:  # noqa: ANN001
    """imageio.jpeg_bytes: a 4:2:0 JPEG of the GPU-resized picture, by libjpeg-turbo through simplejpeg or, without
    it, by Pillow; read back by ImageMagick (not by the code that wrote it) with the picture's size and pixels."""
    import sys

    from indexing.imageio import jpeg_bytes

    if not simplejpeg:
        monkeypatch.setitem(sys.modules, "simplejpeg", None)  # its import then fails: Pillow's encoder
    pixels = np.asarray(Image.open(upright).convert("RGB"))[:, :300]  # a view, not contiguous: as a crop comes
    data = jpeg_bytes(pixels, quality=85)
    (tmp_path / "t.jpg").write_bytes(data)
    size = run("identify", "-format", "%w %h %[jpeg:sampling-factor]", tmp_path / "t.jpg").split()
    assert size == ["300", "240", "2x2,1x1,1x1"]  # 4:2:0
    run("convert", tmp_path / "t.jpg", tmp_path / "t.png")  # decoded by ImageMagick
    back = np.asarray(Image.open(tmp_path / "t.png").convert("RGB")).astype(np.float32)
    assert np.abs(back - pixels).mean() < 4  # quality 85 of a smooth scene


def test_a_jpegs_header_alone_gives_the_probe_process_what_the_whole_file_gives(upright: Path, tmp_path: Path) -> None:
    """The GPU path probes in processes from the bytes before the first scan: a phone-like JPEG tagged by
    exiftool (orientation, time, GPS, an XMP rating) reads the same from its header as from the whole file."""
    from indexing.gpu import jpeg_head
    from indexing.imageio import probe
    from indexing.scan import FileEntry
    from indexing.work import metadata_row, probe_row
    from tests.realfiles import exif, stored

    path = exif(stored(upright, 6, tmp_path / "phone.jpg"), "-Orientation#=6", "-DateTimeOriginal=2023:07:14 18:30:05",
                "-OffsetTimeOriginal=+02:00", "-GPSLatitude=43.7", "-GPSLatitudeRef=N", "-GPSLongitude=7.27",
                "-GPSLongitudeRef=E", "-XMP-xmp:Rating=4")  # fmt: skip
    data = path.read_bytes()
    entry = FileEntry(str(path), len(data), 1.0)
    head = jpeg_head(data)
    sos = data.index(b"\xff\xda")  # the scan's header kept (Pillow 10 needs it), none of its data
    assert head == data[: sos + 2 + struct.unpack(">H", data[sos + 2 : sos + 4])[0]] + b"\xff\xd9"
    assert len(head) < len(data)
    whole = metadata_row(probe(data, name=str(path), max_pixels=10**9), entry)
    assert probe_row(head, entry, 10**9) == whole
    assert (whole["width"], whole["height"], whole["rating"], whole["taken_at"]) == (320, 240, 4, "2023-07-14T18:30:05")
    assert "unreadable" in probe_row(b"\xff\xd8\xff\xe0\x00\x10JFIF", entry, 10**9)  # cut short: the CPU path reads it


class FakeNvImgCodec:
    """nvImageCodec's Python interface as GpuDecoder uses it, on the CPU: each Decoder records the buffers it
    was asked to decode into; one built with the hardware backend alone refuses everything (a GPU without the
    hardware JPEG engine), and the backend lists in `broken` cannot be made at all (as nvImageCodec 0.9 raises
    "Could not create decoder" for CUDA's decoder alone on the H100)."""

    class BackendKind:
        HW_GPU_ONLY, GPU_ONLY = "HW_GPU_ONLY", "GPU_ONLY"

    class Backend:
        def __init__(self, kind: str) -> None:
            self.kind = kind

    class DecodeParams:
        def __init__(self, **_: object) -> None:
            pass

    made: list[list[str]] = []
    broken: list[list[str]] = []

    class Decoder:
        def __init__(self, backends: list | None = None, max_num_cpu_threads: int = 0, options: str = "") -> None:
            self.kinds = [b.kind for b in backends or []]
            self.options = options
            if self.kinds in FakeNvImgCodec.broken:
                raise RuntimeError("Internal error - Could not create decoder. Code: 7")
            self.into: list = []
            FakeNvImgCodec.made.append(self.kinds)

        def decode(self, blobs: list[bytes], params: object = None, cuda_stream: int = 0, images: list | None = None):  # noqa: ANN201
            import io

            self.into.append(images)
            if b"boom" in blobs:  # a call that fails whole, as GPU memory running out would
                raise RuntimeError("CUDA out of memory (simulated)")
            if self.kinds == ["HW_GPU_ONLY"]:
                return [None] * len(blobs)
            return [np.array(Image.open(io.BytesIO(b)).convert("RGB")) for b in blobs]


def fake_decoder(broken: list[list[str]]):  # noqa: ANN201
    """A GpuDecoder on the CPU over FakeNvImgCodec (its __init__ without CUDA: what it sets, set here)."""
    import threading

    import torch

    from indexing.gpu import GpuDecoder

    dec = object.__new__(GpuDecoder)
    dec.torch, dec.device, dec._nv = torch, torch.device("cpu"), FakeNvImgCodec
    dec._options, dec._choice, dec._params, dec._own, dec._hints = {}, 0, None, threading.local(), ""
    dec._spare = None
    dec.encode_jpeg = lambda images: [b"jpeg"] * len(images)  # type: ignore[method-assign]
    FakeNvImgCodec.made.clear()
    FakeNvImgCodec.broken[:] = broken
    return dec


def test_the_decoders_pool_is_planned_for_the_stages_batches() -> None:
    """plan(): the decoders made after it preallocate the hardware engine's pool for the batches to come: 64
    12-MP photos on a large GPU, fewer on a small one (batch_pixels); before it, and for CUDA's decoder, nothing."""
    import threading

    from indexing.gpu import batch_pixels
    from indexing.gpu_stage import BUFFERS

    dec = fake_decoder([])
    assert dec._decoder().options == ""  # made before the plan
    for memory, n in ((80 << 30, 64), (8 << 30, 23)):
        dec.plan(64, batch_pixels(memory, BUFFERS))
        made: list = []
        t = threading.Thread(target=lambda made=made: made.append(dec._decoder()))  # a decode thread's decoder
        t.start()
        t.join()
        assert made[0].options.split() == [
            f"nvjpeg_hw_decoder:preallocate_batch_size={n}",
            "nvjpeg_hw_decoder:preallocate_width_hint=4096",
            "nvjpeg_hw_decoder:preallocate_height_hint=3072",
        ]
    dec.plan(4, 10**9)
    assert "preallocate_batch_size=4 " in dec._hints  # never more than the stage's batch


def test_a_decoder_made_ahead_goes_to_the_first_decode_thread_and_a_released_one_to_the_next() -> None:
    """prewarm(): a decoder made and warmed in a thread of its own while the run scans, taken by the first
    decode thread (waiting for it, not making another); release(): a thread's decoder to the next stage's."""
    import threading

    dec = fake_decoder([["HW_GPU_ONLY"]])  # no hardware engine here: CUDA's decoder
    dec.prewarm(8, 10**9)
    dec.prewarm(8, 10**9)  # one waits already: no second
    got: list = []

    def decode_thread() -> None:
        got.append((dec._decoder(), threading.current_thread().name))
        dec.release()

    for name in ("first stage", "second stage"):
        t = threading.Thread(target=decode_thread, name=name)
        t.start()
        t.join()
    assert FakeNvImgCodec.made == [["GPU_ONLY"]]  # one decoder for both stages, made ahead
    assert got[0][0] is got[1][0] and "preallocate_batch_size=8" in got[0][0].options
    assert dec._spare is not None and dec._spare.result() is got[0][0]  # released again, for a third


def test_a_failed_prewarm_leaves_the_decode_thread_to_make_its_own() -> None:
    import threading

    dec = fake_decoder([["HW_GPU_ONLY"], ["GPU_ONLY"], []])  # nothing can be made
    dec.prewarm(8, 10**9)
    assert dec._spare is not None
    with pytest.raises(RuntimeError):
        dec._spare.result(timeout=10)
    FakeNvImgCodec.broken[:] = []  # now it can
    dec._choice = 0
    made: list = []
    t = threading.Thread(target=lambda: made.append(dec._decoder()))
    t.start()
    t.join()
    assert made and made[0].kinds == ["HW_GPU_ONLY"] and dec._spare is None


def test_gpu_decoder_reuses_its_buffers_and_falls_back_without_a_hardware_engine(upright: Path) -> None:
    import torch

    dec = fake_decoder([])
    assert not dec.progressive  # the hardware engine alone refuses progressive JPEGs
    dec.warm()  # the hardware backend refuses the warm-up JPEG: CUDA's decoder from then on
    assert FakeNvImgCodec.made == [["HW_GPU_ONLY"], ["GPU_ONLY"]] and dec.backends == ("GPU_ONLY",)
    assert dec.progressive
    import io

    buf = io.BytesIO()
    Image.open(upright).convert("RGB").save(buf, "JPEG")
    jpeg = buf.getvalue()
    first = dec.decode([jpeg] * 3, reuse=2)
    second = dec.decode([jpeg] * 3, reuse=2)
    third = dec.decode([jpeg] * 3, reuse=2)  # into the first's buffers: the caller is done with those
    dec.decode([jpeg] * 2, reuse=2)  # another batch size: fresh buffers
    into = dec._own.decoder.into
    assert into[-4] is None and into[-3] is None and into[-1] is None
    assert into[-2] is not None and len(into[-2]) == 3 and first[0].shape == third[0].shape == second[0].shape
    assert all(t is not None and t.dtype == torch.uint8 for t in third)
    # a call that fails keeps its place: "two calls back" stays the caller's count of its batches
    with pytest.raises(RuntimeError):
        dec.decode([jpeg, b"boom"], reuse=2)
    fourth = dec.decode([jpeg] * 2, reuse=2)  # two calls back: the batch of 2, done with
    dec.decode([jpeg] * 2, reuse=2)  # two calls back: the failed one, so fresh buffers
    assert into[-2] is not None and len(into[-2]) == 2 and into[-1] is None and fourth[0] is not None


def test_gpu_decoder_encodes_thumbnails_with_torchvision_one_jpeg_each(upright: Path) -> None:
    """The thumbnails' JPEGs (torchvision's encoder; on the CPU here, nvJPEG on the GPU): one call for the batch,
    its bytes copied back at once and cut into one JPEG a picture, each the picture it was given."""
    import io

    import torch

    dec = fake_decoder([])
    del dec.encode_jpeg  # the class's encoder, not the stand-in's
    scene = Image.open(upright).convert("RGB")
    sizes = [(400, 300), (300, 400), (123, 77)]
    images = [torch.from_numpy(np.asarray(scene.resize(s)).copy()) for s in sizes]
    got = dec.encode_jpeg(images)
    assert len(got) == 3
    for data, size, im in zip(got, sizes, images, strict=True):
        back = Image.open(io.BytesIO(data))
        assert back.format == "JPEG" and back.size == size
        assert np.abs(np.asarray(back.convert("RGB"), np.int16) - im.numpy()).mean() < 6
    assert dec.encode_jpeg([]) == []


def test_gpu_decoder_takes_the_next_backends_that_can_be_made(upright: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the hardware engine nor CUDA's decoder alone can be made: nvImageCodec's default is used. None
    at all: the run takes the CPU path, with a warning, instead of failing."""
    import indexing.gpu as gpu

    dec = fake_decoder([["HW_GPU_ONLY"], ["GPU_ONLY"]])
    dec.warm()
    assert FakeNvImgCodec.made == [[]] and dec.backends == ()
    assert dec.decode([(upright.parent / "scene.png").read_bytes()])[0].shape == (240, 320, 3)
    dec = fake_decoder([["HW_GPU_ONLY"], ["GPU_ONLY"], []])
    with pytest.raises(RuntimeError, match="Could not create decoder"):
        dec._first_decoder()

    class Unmakeable:
        def __init__(self, device: str) -> None:
            raise RuntimeError("Internal error - Could not create decoder. Code: 7")

    monkeypatch.setattr(gpu, "GpuDecoder", Unmakeable)
    settings = type("S", (), {"gpu_decode": "auto"})()
    assert gpu.gpu_decoder(settings, "cuda") is None


@pytest.mark.parametrize(("given", "want"), [(None, "32"), ("4", "4")])
def test_cuda_gets_its_most_hardware_queues_unless_the_user_chose(given: str | None, want: str) -> None:
    """The GPU path's twenty-odd streams need the driver's 32 hardware queues (8 by default: streams sharing a
    queue wait for each other's work); models.torch_util sets that before torch starts CUDA, a user's value
    stays."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "CUDA_DEVICE_MAX_CONNECTIONS"}
    if given is not None:
        env["CUDA_DEVICE_MAX_CONNECTIONS"] = given
    code = "import os, models.torch_util; print(os.environ['CUDA_DEVICE_MAX_CONNECTIONS'])"
    root = Path(__file__).resolve().parents[1]
    got = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert got.stdout.strip() == want
