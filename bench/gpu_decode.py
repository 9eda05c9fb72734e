"""GPU decoding against the CPU pipeline, side by side in one run on the GPU machine (issue 13, first part).

On the same generated 12-MP JPEGs (bench/run.py's make_photo): nvImageCodec's batched decode alone; that decode
plus every resize the index needs as batched GPU tensor ops (the three encoders' inputs and the 400 px
thumbnail, indexing/gpu.py); and those fed to the full-size random-initialised encoders on the GPU without a
round trip to the CPU (content alone, and all three) -- against today's Indexer on the same files (content
alone, and all three). Then the parity the issue asks for: per image, the cosine between each encoder's
embedding of the GPU-made input and of the CPU path's input (Pillow draft decode and open_clip's transform),
and whether the top 10 neighbours of each picture agree.

Then where a run's time goes (the GPU stage's busy seconds per stage), the two ways of encoding thumbnails
(Pillow WebP on the CPU threads from the GPU-resized 400 px image, against nvImageCodec's GPU JPEG encoder),
and a mixed folder (70% JPEG, 20% HEIC, 10% PNG) through both paths.

    python bench/gpu_decode.py [--images 512] [--batch 64] [--mixed 512] [--out results.json]
    python bench/gpu_decode.py --variants   # only: the decoder's backends and host threads, in the Indexer
    python bench/gpu_decode.py --threads    # only: several decode threads, alone and in the Indexer
    python bench/gpu_decode.py --configs "" "JPEG_THREAD=0" "PREP_STREAM=0"  # only: the GPU path under each set
        of gpu_stage's switches in turn (GPU_JPEG_THUMBS, PREP_STREAM, JPEG_THREAD, GpuDecoder.OPTIONS)
    python bench/gpu_decode.py --images 1024 --copies 4 ...  # 4,096 files: each photo 4 times, each copy with
        a comment segment of its own (another hash, the same decoding work; generating a photo takes ~1 s)
    python bench/gpu_decode.py --hash       # only: the change hash, BLAKE2b against xxh3

Each Indexer run reports its GPU stage's busy seconds, each decode call's time, the main thread's waits and
the CPU seconds of each kind of thread (ThreadCpu).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import models.torch_util  # noqa: E402, F401 - CUDA's hardware queues (see there) set before anything starts CUDA
from bench.run import make_photo  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from indexing.gpu import GpuDecoder  # noqa: E402
from indexing.gpu_resize import model_inputs, prepare_batch, thumbnails  # noqa: E402
from models.backend import Tower  # noqa: E402
from models.specs import OPENAI_MEAN, OPENAI_STD  # noqa: E402
from models.tiny import write_full_random_models  # noqa: E402
from settings import Settings  # noqa: E402

NORMS = {"content": (OPENAI_MEAN, OPENAI_STD), "style": (OPENAI_MEAN, OPENAI_STD), "texture": ((0.5,) * 3, (0.5,) * 3)}


def rate(n: int, fn) -> float:  # noqa: ANN001
    import torch

    torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return n / (time.perf_counter() - t)


STAGE_SECONDS: list[dict] = []
MAIN_SECONDS: dict[str, float] = {}
DECODE_CALLS: list[float] = []
INNER_CALLS: list[float] = []  # nvImageCodec's own decode calls inside the stage's, each
DECODE_SPAN: list[float] = []  # the first decode call's start, the last one's end (perf_counter)
TIMELINE: dict[str, float] = {}  # the first time each of a run's steps came (perf_counter)
THREAD_NAMES: dict[str, str] = {}  # "native id, ident" -> name: py-spy's thread labels read back


class ThreadCpu:
    """CPU seconds each kind of thread used during a run (Linux: /proc/self/task), sampled every 0.2 s so that
    threads which end before the run does are counted: where the cores, and so the GIL, went. Threads that
    Python did not start (nvImageCodec's, CUDA's, FAISS's) are "native"; "probe processes" are the children."""

    def __enter__(self) -> ThreadCpu:
        import threading

        self._last: dict[int, tuple[str, float]] = {}
        self._sample()
        self._base = {tid: sec for tid, (_, sec) in self._last.items()}
        self._children = self._child_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _cpu(stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _child_seconds(self) -> dict[int, float]:
        import multiprocessing

        got = {}
        for c in multiprocessing.active_children():
            try:
                got[c.pid] = self._cpu(Path(f"/proc/{c.pid}/stat"))
            except OSError:
                pass
        return got

    def _sample(self) -> None:
        import re
        import threading

        THREAD_NAMES.update({f"{t.native_id} {t.ident:#x}": t.name for t in threading.enumerate() if t.ident})
        names = {t.native_id: re.sub(r"[_-]?\d+$", "", t.name) for t in threading.enumerate()}
        for task in Path("/proc/self/task").iterdir():
            try:
                sec = self._cpu(task / "stat")
            except OSError:
                continue
            tid = int(task.name)
            self._last[tid] = (names.get(tid) or self._last.get(tid, ("native", 0))[0], sec)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __exit__(self, *_: object) -> None:
        self._sample()
        self._stop.set()
        self.seconds: dict[str, float] = {}
        for tid, (name, sec) in self._last.items():
            self.seconds[name] = round(self.seconds.get(name, 0) + sec - self._base.get(tid, 0), 2)
        children = self._child_seconds()
        self.seconds["probe processes"] = round(sum(v - self._children.get(p, 0) for p, v in children.items()), 2)


def _record_stage_seconds() -> None:
    """The GPU stage's busy seconds per stage, kept when each run's stage finishes."""
    from indexing.gpu_stage import GpuStage

    finish = GpuStage.finish

    def recorded(self: GpuStage) -> list:
        got = finish(self)
        STAGE_SECONDS.append({k: round(v, 2) for k, v in self.seconds.items()})
        return got

    GpuStage.finish = recorded  # type: ignore[method-assign]

    from indexing.pipeline import Indexer

    def timing(name: str) -> None:
        f = getattr(Indexer, name)

        def timed(*a: object) -> object:
            t = time.perf_counter()
            try:
                return f(*a)
            finally:
                MAIN_SECONDS[f"main {name}"] = MAIN_SECONDS.get(f"main {name}", 0) + time.perf_counter() - t

        setattr(Indexer, name, timed)

    decode = GpuDecoder.decode

    def timed_decode(self: GpuDecoder, blobs: list, reuse: int = 0) -> list:  # each batch's decode call
        t = time.perf_counter()
        try:
            return decode(self, blobs, reuse)
        finally:
            if reuse:
                DECODE_CALLS.append(time.perf_counter() - t)
                DECODE_SPAN[:] = [DECODE_SPAN[0] if DECODE_SPAN else t, time.perf_counter()]

    GpuDecoder.decode = timed_decode  # type: ignore[method-assign]

    made = GpuDecoder._decoder

    class Timed:  # nvImageCodec's decoder, its calls from the stage's decode threads timed apart from the rest
        def __init__(self, inner: object) -> None:
            self._inner = inner

        def decode(self, *a: object, **kw: object) -> object:
            t = time.perf_counter()
            try:
                return self._inner.decode(*a, **kw)  # type: ignore[attr-defined]
            finally:
                if threading.current_thread().name.startswith("gpu-decode"):
                    INNER_CALLS.append(time.perf_counter() - t)

    def timed_decoder(self: GpuDecoder) -> object:
        d = made(self)
        return d if isinstance(d, Timed) else Timed(d)

    GpuDecoder._decoder = timed_decoder  # type: ignore[method-assign]
    timing("_commit")  # the main thread's own work: committing

    def marked(owner: object, name: str, label: str, after: bool = False) -> None:  # TIMELINE: when it came, once
        f = getattr(owner, name)

        def mark(*a: object, **kw: object) -> object:
            if not after:
                TIMELINE.setdefault(label, time.perf_counter())
            got = f(*a, **kw)
            if after:
                TIMELINE.setdefault(label, time.perf_counter())
            return got

        setattr(owner, name, mark)

    import indexing.gpu

    marked(indexing.gpu, "gpu_decoder", "GPU decoder made", after=True)
    marked(Indexer, "_plan", "folder scanned", after=True)
    marked(GpuStage, "__init__", "GPU stage started", after=True)
    marked(GpuDecoder, "warm", "decoder warmed", after=True)
    marked(GpuStage, "add", "first file handed to the stage")
    marked(GpuStage, "submit", "first batch submitted")


def indexer_rate(
    tmp: Path, name: str, folder: Path, n: int, bs: int, path: str, keys: dict | None, workers: int = 0
) -> tuple[float, dict]:
    """img/s of a fresh Indexer run over `folder`, the towers loaded and warmed before the clock starts."""
    from services import StyleSeek

    mode = "off" if path == "cpu" else "auto"
    settings = Settings(data_dir=tmp / f"data-{name}", models_dir=tmp / "models", device="cuda", batch_size=bs,
                        decode_workers=workers or os.cpu_count(), gpu_decode=mode)  # fmt: skip
    pipe = StyleSeek(settings, style_encoders=keys) if keys is not None else StyleSeek(settings)
    for e in pipe.encoders.values():
        e.warm(text=False, image=True)
    STAGE_SECONDS.clear()
    MAIN_SECONDS.clear()
    DECODE_CALLS.clear()
    DECODE_SPAN.clear()
    INNER_CALLS.clear()
    TIMELINE.clear()
    t = time.perf_counter()
    with ThreadCpu() as cpu:
        report = pipe.index_folders([folder])
    took = time.perf_counter() - t
    assert report.indexed == n and report.failed == 0, report
    seconds = {k: round(sum(d.get(k, 0) for d in STAGE_SECONDS), 2) for d in STAGE_SECONDS for k in d}
    main = {k: round(v, 2) for k, v in MAIN_SECONDS.items()}
    if DECODE_SPAN:  # the run's wall: before the first decode call, the calls' span, after the last
        first, last = DECODE_SPAN[0] - t, DECODE_SPAN[1] - t
        main["wall split: to first decode, decoding, after last decode"] = [
            round(first, 2),
            round(last - first, 2),
            round(took - last, 2),
        ]
    if TIMELINE:  # the run's start, step by step: seconds from the clock's start
        main["timeline, s"] = {k: round(v - t, 3) for k, v in sorted(TIMELINE.items(), key=lambda kv: kv[1])}
        if DECODE_SPAN:
            main["timeline, s"]["first decode call"] = round(DECODE_SPAN[0] - t, 3)
    if INNER_CALLS:  # the rest of a decode call: its Python (a tensor a picture) and the GIL it waits for
        main["nvimgcodec's own calls, ms: median, sum s"] = [
            round(float(np.median(INNER_CALLS)) * 1e3, 1),
            round(sum(INNER_CALLS), 2),
        ]
    if DECODE_CALLS:
        main["decode calls, ms: first 3, median"] = [round(x * 1e3) for x in DECODE_CALLS[:3]] + [
            round(float(np.median(DECODE_CALLS)) * 1e3)
        ]
        calls = np.array(DECODE_CALLS) * 1e3  # the mean, not the median, is what the run's wall pays
        main["decode calls, ms: mean, p90, max; sum s"] = [
            *(round(float(x), 1) for x in (calls.mean(), np.percentile(calls, 90), calls.max())),
            round(float(calls.sum()) / 1e3, 2),
        ]
    thumbs = [p.stat().st_size for p in (settings.data_dir).rglob("*.jpg")]  # the GPU path's thumbnails
    if thumbs:
        main["thumbnail_jpeg_kb_mean"] = round(float(np.mean(thumbs)) / 1e3, 1)
    return n / took, {**seconds, **main, "wall": round(took, 2), "thread_cpu_seconds": cpu.seconds}


def _mixed_one(args: tuple[int, str, str]) -> str:
    i, kind, path = args
    from PIL import Image

    jpeg = make_photo((i, path + ".tmp.jpg"))
    im = Image.open(jpeg)
    if kind == "heic":
        from pillow_heif import register_heif_opener

        register_heif_opener()
        im.save(path, "HEIF", quality=80, enc_params={"preset": "ultrafast"})  # x265's default: 13 s a file
    else:
        im.save(path, "PNG", compress_level=6)
    os.unlink(jpeg)
    return path


def make_mixed(folder: Path, n: int) -> dict[str, list[Path]]:
    """70% 12-MP JPEG, 20% HEIC (as phones write them), 10% PNG, from the same generator."""
    folder.mkdir(parents=True)
    kinds = ["jpeg"] * 7 + ["heic"] * 2 + ["png"]
    todo = [(i, kinds[i % 10], str(folder / f"m{i:04d}.{dict(jpeg='jpg').get(kinds[i % 10], kinds[i % 10])}"))
            for i in range(n)]  # fmt: skip
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(make_photo, [(i, p) for i, k, p in todo if k == "jpeg"]))
        list(pool.map(_mixed_one, [t for t in todo if t[1] != "jpeg"]))
    return {k: [Path(p) for _, kk, p in todo if kk == k] for k in ("jpeg", "heic", "png")}


def code_stream_bytes(cs: object) -> int:
    """The size of an nvImageCodec CodeStream (its attribute's name has moved between versions)."""
    for attr in ("size", "nbytes"):
        if isinstance(v := getattr(cs, attr, None), int):
            return v
    return len(bytes(cs))  # type: ignore[call-overload]


def thumbnail_encoders(dec: GpuDecoder, blobs: list[bytes], bs: int) -> dict:
    """Thumbnails of decoded batches: the 400 px image made on the GPU, then (a) Pillow WebP (the product's
    format) in 16 threads on the host, against (b) nvImageCodec's GPU JPEG encoder on the batch."""
    from concurrent.futures import ThreadPoolExecutor

    import torch
    from nvidia import nvimgcodec
    from PIL import Image

    from indexing.imageio import thumbnail_bytes

    batches = [dec.decode(blobs[i : i + bs]) for i in range(0, len(blobs), bs)]
    smalls = [thumbnails(b, 400) for b in batches]
    n = sum(len(s) for s in smalls)
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        t = time.perf_counter()
        sizes = [
            len(b) for s in smalls for b in pool.map(lambda x: thumbnail_bytes(Image.fromarray(x.numpy()), 400), s)
        ]
        webp = n / (time.perf_counter() - t)
    enc = nvimgcodec.Encoder()
    params = nvimgcodec.EncodeParams(quality_type=nvimgcodec.QualityType.QUALITY, quality_value=80)
    gpu_smalls = [[x.cuda().contiguous() for x in s] for s in smalls]

    def gpu_jpeg(batch: list) -> list:
        return enc.encode([nvimgcodec.as_image(x) for x in batch], "jpeg", params=params)

    gpu_jpeg(gpu_smalls[0])  # warm-up
    torch.cuda.synchronize()
    t = time.perf_counter()
    jsizes = [code_stream_bytes(b) for s in gpu_smalls for b in gpu_jpeg(s)]
    jpeg = n / (time.perf_counter() - t)
    return {
        "pillow_webp_16_threads_img_s": round(webp, 1),
        "webp_mean_kb": round(float(np.mean(sizes)) / 1e3, 1),
        "nvimgcodec_gpu_jpeg_img_s": round(jpeg, 1),
        "jpeg_q80_mean_kb": round(float(np.mean(jsizes)) / 1e3, 1),
    }


def decoder_variants(tmp: Path, photos: Path, blobs: list[bytes], bs: int, out: dict) -> None:
    """nvImageCodec's host threads and backends (CUDA's decoder too, as a GPU without the hardware engine gets):
    the decoder alone, and the Indexer's GPU path (content) with each, beside the CPU path in the same run."""
    from indexing.gpu import jpeg_head
    from indexing.scan import FileEntry
    from indexing.work import PROBES, probe_row

    entry = FileEntry(str(photos / "p0000.jpg"), len(blobs[0]), 1.0)
    here = probe_row(jpeg_head(blobs[0]), entry, 2_000_000_000)
    there = PROBES.get().submit(probe_row, jpeg_head(blobs[0]), entry, 2_000_000_000).result()
    out["probe_check"] = {
        "here": here if isinstance(here, str) else "ok",
        "process": there if isinstance(there, str) else "ok",
        "head_bytes": len(jpeg_head(blobs[0])),
    }  # fmt: skip (a failed probe: slow)
    print("probe check", out["probe_check"], flush=True)
    [f.result() for f in [PROBES.get().submit(os.getpid) for _ in range(32)]]  # all started before the clocks
    n = len(blobs)
    out["cpu_pipeline_content_img_s"], _ = indexer_rate(tmp, "cpu-content", photos, n, bs, "cpu", {})
    print("cpu content", out["cpu_pipeline_content_img_s"], flush=True)
    default = (GpuDecoder.CPU_THREADS, GpuDecoder.CHOICES)
    variants = {
        "default": default,
        "nvimgcodec_default_backends_all_threads": (0, ((),)),
        "as_without_the_engine": (GpuDecoder.CPU_THREADS, GpuDecoder.CHOICES[1:]),  # consumer cards
    }
    for name, (threads, choices) in variants.items():
        GpuDecoder.CPU_THREADS, GpuDecoder.CHOICES = threads, choices
        try:
            dec = GpuDecoder()
            dec.warm()
            dec.decode(blobs[:bs])
            alone = rate(n, lambda: [len(dec.decode(blobs[i : i + bs])) for i in range(0, n, bs)])  # noqa: B023
            piped, seconds = indexer_rate(tmp, f"gpu-{name}", photos, n, bs, "gpu", {}, 8)
            out[name] = {"backends": dec.backends, "decode_alone_img_s": alone, "gpu_pipeline_content_img_s": piped}
            out[name]["stage_seconds"] = seconds
        except Exception as e:  # noqa: BLE001 - one variant failing must not lose the rest
            out[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
        print(name, out[name], flush=True)
    GpuDecoder.CPU_THREADS, GpuDecoder.CHOICES = default
    for path in ("cpu", "gpu"):
        out[f"{path}_pipeline_all_three_img_s"], seconds = indexer_rate(tmp, f"{path}-all", photos, n, bs, path, None)
        print(path, "all three", out[f"{path}_pipeline_all_three_img_s"], seconds, flush=True)


def decoder_threads(tmp: Path, photos: Path, blobs: list[bytes], bs: int, out: dict) -> None:
    """Batches decoded at once by several threads, each with its own decoder and CUDA stream: the decoder alone
    (and the CPU seconds its calling threads use), then the Indexer's GPU path with 1, 2 and 3 decode threads,
    beside the CPU path in the same run."""
    import threading

    import torch

    import indexing.gpu_stage as stage

    n = len(blobs)
    batches = [blobs[i : i + bs] for i in range(0, n, bs)]
    dec = GpuDecoder()
    for k in (1, 2, 3, 4):
        start = threading.Barrier(k + 1)
        cpu: list[float] = []

        def work(mine: list[list[bytes]]) -> None:
            with torch.cuda.stream(torch.cuda.Stream()):
                dec.decode(mine[0])  # this thread's decoder, warmed
                torch.cuda.current_stream().synchronize()
                start.wait()  # noqa: B023
                t = time.thread_time()
                for b in mine:
                    dec.decode(b)
                torch.cuda.current_stream().synchronize()
                cpu.append(time.thread_time() - t)  # noqa: B023

        threads = [threading.Thread(target=work, args=(batches[i::k],)) for i in range(k)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        took = time.perf_counter() - t0
        out[f"decode_alone_{k}_threads"] = {"img_s": round(n / took, 1), "cpu_s_of_calling_threads": round(sum(cpu), 2)}
        print(k, "decode threads alone", out[f"decode_alone_{k}_threads"], flush=True)
    for path in ("cpu", "gpu"):
        for name, keys, threads in (("content", {}, (1, 2, 3)), ("all_three", None, (1, 2))):
            for k in threads if path == "gpu" else (0,):
                stage.DECODE_THREADS = k or 1
                rate_, seconds = indexer_rate(tmp, f"{path}-{name}-{k}", photos, n, bs, path, keys)
                out[f"{path}_pipeline_{name}" + (f"_{k}_decode_threads" if k else "")] = {"img_s": rate_, **seconds}
                print(path, name, k, rate_, seconds, flush=True)
    stage.DECODE_THREADS = 1


def decode_as_the_stage(dec: GpuDecoder, blobs: list[bytes], bs: int) -> None:
    """The decode calls alone as the GPU stage makes them: on a high-priority stream of their own, into the
    buffers of the batch before last (gpu_stage.BUFFERS)."""
    import torch

    from indexing.gpu_stage import BUFFERS

    with torch.cuda.stream(torch.cuda.Stream(priority=-1)):
        for i in range(0, len(blobs) - bs + 1, bs):
            dec.decode(blobs[i : i + bs], reuse=BUFFERS)
        torch.cuda.current_stream().synchronize()


class Without:
    """Bench-only switches, "bench.NO_TOWERS=1" and so on in --configs: a part of the GPU stage's work left out,
    to see what the decode calls lose to it (the run's vectors and thumbnails are then not the product's)."""

    NO_TOWERS = False  # no tower runs: zero vectors
    NO_THUMBS = False  # no thumbnail JPEGs written (and no wait for their copy)
    NO_RESIZES = False  # no resizes either: no inputs, no thumbnails, zero vectors
    READERS = 8  # the Indexer's reader threads (decode_workers) in the GPU runs: the CPU path's files
    # glibc's malloc keeping freed memory (a file's bytes, 2.5 MB) instead of giving it back to the kernel each
    # time (munmap / heap trims: page faults and TLB shootdowns on every core the process runs on)
    MALLOC = False


def _mallopt(keep: bool) -> None:
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, (64 << 20) if keep else (128 << 10))
    libc.mallopt(m_trim_threshold, (1 << 30) if keep else (128 << 10))


def _without() -> None:
    """Patch the GPU stage for the Without switches (read at each call)."""
    from indexing.gpu_stage import GpuStage

    prepare, embed, write = GpuStage._prepare, GpuStage._embed, GpuStage._write

    def _prepare(self: GpuStage, batch: list, images: list) -> tuple:
        if not Without.NO_RESIZES:
            return prepare(self, batch, images)
        done = [o for o, im in zip(batch, images, strict=True) if im is not None]
        refused = [o for o, im in zip(batch, images, strict=True) if im is None]
        return done, refused, {s: None for o in done for s in o.job.spaces}, [None] * len(done), self._event()

    def _embed(self: GpuStage, done: list, inputs: dict, made: object) -> dict:
        if not (Without.NO_TOWERS or Without.NO_RESIZES):
            return embed(self, done, inputs, made)
        return {s: (list(range(len(done))), np.zeros((len(done), self._encoders[s].dim), np.float32)) for s in inputs}

    def _write(self: GpuStage, done: list, small: list, made: object) -> None:
        if not (Without.NO_THUMBS or Without.NO_RESIZES):
            write(self, done, small, made)

    GpuStage._prepare, GpuStage._embed, GpuStage._write = _prepare, _embed, _write  # type: ignore[method-assign]


def big_jpeg() -> bytes:
    """A 4000x3000 JPEG of noise at quality 95: a bitstream larger than any photo's of that size."""
    import io

    from PIL import Image

    rng = np.random.default_rng(7)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def first_calls(blobs: list[bytes], bs: int, k: int = 6, warm: list[bytes] | None = None) -> list[float]:
    """The first k decode calls' ms of a fresh decoder in a thread of its own, warmed as the stage warms it (its
    small JPEG), as the stage calls it: its start cost, alone."""
    import torch

    from indexing.gpu_stage import BUFFERS

    got: list[float] = []

    def run() -> None:
        dec = GpuDecoder()
        with torch.cuda.stream(torch.cuda.Stream(priority=-1)):
            dec.warm()
            if warm:  # a batch of large bitstreams first: the decoder's buffers grown once
                t = time.perf_counter()
                dec.decode(warm, reuse=BUFFERS)
                dec.decode(warm, reuse=BUFFERS)
                got.append(round((time.perf_counter() - t) * 1e3, 1))  # (the warm-up's ms, first in the list)
            torch.cuda.current_stream().synchronize()
            for i in range(k):
                t = time.perf_counter()
                dec.decode(blobs[i * bs : (i + 1) * bs], reuse=BUFFERS)
                got.append(round((time.perf_counter() - t) * 1e3, 1))

    th = threading.Thread(target=run)
    th.start()
    th.join()
    return got


def _apply(config: str) -> dict:
    """Set a run's switches, "NAME=VALUE,..." (gpu_stage's names, GpuDecoder.NAME, feed.NAME or hashing.NAME, e.g.
    hashing.NEW_CATALOGS=blake2b-128; read as the type the switch has); gives back what they were."""
    import indexing.feed as feed
    import indexing.gpu_stage as stage
    import indexing.hashing as hashing

    owners = {"GpuDecoder": GpuDecoder, "hashing": hashing, "bench": Without, "feed": feed}
    before = {}
    for part in filter(None, config.split(",")):
        name, value = part.split("=", 1)
        owner, attr = (owners[name.split(".")[0]], name.split(".", 1)[1]) if "." in name else (stage, name)
        v = getattr(owner, attr)
        before[name] = str(int(v)) if isinstance(v, bool) else str(v.value if isinstance(v, Enum) else v)
        kind = type(getattr(owner, attr))
        setattr(owner, attr, value == "1" if kind is bool else kind(value))
        if name == "bench.MALLOC":
            _mallopt(Without.MALLOC)
    return before


def switched(
    tmp: Path,
    photos: Path,
    blobs: list[bytes],
    bs: int,
    out: dict,
    configs: list[str],
    content_only: bool = False,
    skip_cpu: bool = False,
    decode_batches: list[int] | None = None,
    fresh_calls: int = 6,
    fresh_options: list[str] | None = None,
) -> None:
    """The Indexer's GPU path, content and all three, under each of `configs` in turn (gpu_stage's
    switches: "" the defaults, "PREP_STREAM=0,JPEG_THREAD=0", "GpuDecoder.OPTIONS=..."), twice
    each (runs on one host differ by ~10%), beside the CPU path and the decoder alone in the same run."""
    from indexing.work import PROBES

    [f.result() for f in [PROBES.get().submit(os.getpid) for _ in range(32)]]  # all started before the clocks
    n = len(blobs)
    dec = GpuDecoder()
    dec.decode(blobs[:bs])

    def decode_only() -> None:  # each batch dropped before the next (kept, 4,096 pictures outgrew the H100)
        for i in range(0, n, bs):
            dec.decode(blobs[i : i + bs])

    big = [big_jpeg()] * bs if "big" in (fresh_options or []) else None
    for opts in fresh_options or [""]:  # a fresh decoder's calls under nvImageCodec's options ("big": warmed big)
        GpuDecoder.OPTIONS = "" if opts == "big" else opts
        got = first_calls(blobs, bs, min(fresh_calls, n // bs), big if opts == "big" else None)
        out.setdefault("fresh_decoder_calls_ms", {})[opts] = got
        print(f"a fresh decoder's calls [{opts}], ms: sum {sum(got):.0f}", got, flush=True)
    GpuDecoder.OPTIONS = ""
    out["decode_alone_img_s"] = rate(n, decode_only)
    for b in decode_batches or []:
        out[f"decode_as_the_stage_batch_{b}_img_s"] = rate(n, lambda b=b: decode_as_the_stage(dec, blobs, b))
        print(f"decode as the stage, batches of {b}", out[f"decode_as_the_stage_batch_{b}_img_s"], flush=True)
    if not skip_cpu:
        out["cpu_pipeline_content_img_s"], _ = indexer_rate(tmp, "cpu-content", photos, n, bs, "cpu", {})
    print("decoder alone", out["decode_alone_img_s"], "cpu content", out.get("cpu_pipeline_content_img_s"), flush=True)
    for config in configs * 2:
        before = _apply(config)
        for name, keys in (("content", {}), ("all_three", None))[: 1 if content_only else 2]:
            key = f"gpu_pipeline_{name} [{config or 'defaults'}]"
            runs = sum(len(v) for v in out.values() if isinstance(v, list))  # a fresh data folder each run
            rate_, seconds = indexer_rate(tmp, f"run-{runs}", photos, n, bs, "gpu", keys, Without.READERS)
            out.setdefault(key, []).append({"img_s": rate_, **seconds})
            print(key, rate_, {k: v for k, v in seconds.items() if k != "thread_cpu_seconds"}, flush=True)
        _apply(",".join(f"{k}={v}" for k, v in before.items()))


def hashes(tmp: Path, photos: Path, blobs: list[bytes], bs: int, out: dict) -> None:
    """The change hash: BLAKE2b-128 against xxh3-128, alone on one core and in the Indexer's GPU path (where the
    probe processes read and hash each file), twice each in turn, each run a fresh catalog made with that hash."""
    import hashlib

    import xxhash

    import indexing.hashing as hashing
    from indexing.hashing import HashKind
    from indexing.work import PROBES

    for name, fn in (("blake2b", lambda b: hashlib.blake2b(b, digest_size=16).hexdigest()), ("xxh3", None)):
        fn = fn or xxhash.xxh3_128_hexdigest
        t = time.perf_counter()
        for b in blobs[:256]:
            fn(b)
        out[f"{name}_ms_per_file_one_core"] = round((time.perf_counter() - t) / 256 * 1e3, 3)
    [f.result() for f in [PROBES.get().submit(os.getpid) for _ in range(32)]]
    n, before = len(blobs), hashing.NEW_CATALOGS
    for kind in (HashKind.BLAKE2B, HashKind.XXH3) * 2:
        hashing.NEW_CATALOGS = kind  # the new catalog's: the probe processes are handed it with each task
        for name, keys in (("content", {}), ("all_three", None)):
            key = f"gpu_pipeline_{name}_{kind.name.lower()}"
            rate_, seconds = indexer_rate(tmp, f"{key}-{len(out)}", photos, n, bs, "gpu", keys, 8)
            out.setdefault(key, []).append({"img_s": rate_, **seconds})
            print(key, rate_, {k: v for k, v in seconds.items() if k != "thread_cpu_seconds"}, flush=True)
            print("   cpu", seconds.get("thread_cpu_seconds"), flush=True)
    hashing.NEW_CATALOGS = before


def photo_set(photos: Path, images: int, copies: int = 1) -> list[Path]:
    """`images` generated 12-MP photos in `photos` (those already there kept), each `copies` times as distinct
    files; on disk (synced) before any clock starts."""
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        todo = [(i, str(photos / f"p{i:04d}.jpg")) for i in range(images)]
        list(pool.map(make_photo, [a for a in todo if not Path(a[1]).is_file()]))
        paths = [Path(a[1]) for a in todo]
    for k in range(1, copies):  # a COM segment after SOI: a new file to the catalog, the same pixels
        for p in paths[:images]:
            data = p.read_bytes()
            note = f"copy {k}".encode()
            copy = data[:2] + b"\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note + data[2:]
            q = photos / f"{p.stem}-{k}.jpg"
            if not q.is_file() or q.stat().st_size != len(copy):  # (kept from an earlier run: not written again)
                q.write_bytes(copy)
            paths.append(q)
    os.sync()  # the files on disk before the clocks: the kernel's writeback of 10-20 GB slowed the runs beside it
    return paths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--copies", type=int, default=1, help="each photo this many times, as distinct files")
    ap.add_argument("--mixed", type=int, default=512, help="pictures in the mixed folder (0: none)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--variants", action="store_true", help="only: the decoder's host threads and backends")
    ap.add_argument("--threads", action="store_true", help="only: several decode threads, alone and in the Indexer")
    ap.add_argument("--configs", nargs="+", help='only: the GPU path under each set of switches ("" the defaults)')
    ap.add_argument("--content-only", action="store_true", help="with --configs: the content space alone")
    ap.add_argument("--hash", action="store_true", help="only: the change hash, BLAKE2b against xxh3")
    ap.add_argument("--fresh-calls", type=int, default=6, help="with --configs: a fresh decoder's first calls, timed")
    ap.add_argument("--fresh-options", nargs="*", help='with --configs: the fresh decoder under each options string '
                    '("big": warmed on a batch of large bitstreams first)')  # fmt: skip
    ap.add_argument("--skip-cpu", action="store_true", help="with --configs: no CPU-path run beside")
    ap.add_argument("--decode-batches", type=int, nargs="*", help="with --configs: the decoder alone, as the stage "
                    "calls it, at these batch sizes")  # fmt: skip
    ap.add_argument("--photos", type=Path, help="the generated photos here, kept: made once for several runs")
    args = ap.parse_args()
    import torch

    from indexing.imageio import decode
    from services import StyleSeek

    _record_stage_seconds()
    _without()

    tmp = scratch("gpu-decode-")
    photos = args.photos or tmp / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    paths = photo_set(photos, args.images, args.copies)
    blobs = [p.read_bytes() for p in paths]
    n, bs = len(blobs), args.batch
    out: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(),
        "cpus": os.cpu_count(),
        "images": n,
        "mean_mb": round(float(np.mean([len(b) for b in blobs])) / 1e6, 2),
        "batch": bs,
    }
    write_full_random_models(tmp / "models", keys=("content", "style", "texture"))
    settings = Settings(data_dir=tmp / "data", models_dir=tmp / "models", device="cuda", batch_size=bs)
    svc = StyleSeek(settings)
    encs = svc.encoders
    for e in encs.values():
        e.load()
    modules = {s: e._tower(Tower.IMAGE).module for s, e in encs.items()}  # the fp16 PyTorch towers on the GPU
    sizes = {s: e.input_size for s, e in encs.items()}
    dec = GpuDecoder()
    dec.decode(blobs[:bs])  # warm-up

    def decode_only() -> None:
        for i in range(0, n, bs):
            dec.decode(blobs[i : i + bs])

    def decode_and_resize() -> None:
        for i in range(0, n, bs):
            prepare_batch(dec.decode(blobs[i : i + bs]), {s: (sizes[s], *NORMS[s]) for s in encs}, 400)

    def end_to_end(spaces: tuple[str, ...]):  # noqa: ANN202
        def run() -> None:
            with torch.inference_mode():
                for i in range(0, n, bs):
                    ims = dec.decode(blobs[i : i + bs])
                    inputs, _ = prepare_batch(ims, {s: (sizes[s], *NORMS[s]) for s in spaces}, 400)
                    for s in spaces:
                        modules[s](inputs[s].half()).float().cpu()

        return run

    if args.configs:
        switched(
            tmp,
            photos,
            blobs,
            bs,
            out,
            args.configs,
            args.content_only,
            args.skip_cpu,
            args.decode_batches,
            args.fresh_calls,
            args.fresh_options,
        )
    elif args.variants or args.threads or args.hash:
        mode = decoder_threads if args.threads else hashes if args.hash else decoder_variants
        mode(tmp, photos, blobs, bs, out)
    if args.configs or args.variants or args.threads or args.hash:
        out["thread_names"] = THREAD_NAMES
        if args.out:
            args.out.write_text(json.dumps(out, indent=2) + "\n")
        return
    end_to_end(("content", "style", "texture"))()  # warm-up of the towers
    out["nvimgcodec_decode_img_s"] = rate(n, decode_only)
    out["decode_resizes_thumbs_img_s"] = rate(n, decode_and_resize)
    out["gpu_content_img_s"] = rate(n, end_to_end(("content",)))
    out["gpu_all_three_img_s"] = rate(n, end_to_end(("content", "style", "texture")))
    print(json.dumps(out, indent=2), flush=True)

    try:
        out["thumbnails"] = thumbnail_encoders(dec, blobs[: 4 * bs], bs)
    except Exception as e:  # noqa: BLE001 - one comparison failing must not lose the rest of the run
        out["thumbnails"] = {"error": f"{type(e).__name__}: {e}"[:300]}
    print(json.dumps(out["thumbnails"]), flush=True)

    # the Indexer on the same files, same run (fresh data folders): the CPU path (gpu_decode off) on a thread a
    # core, its best, and the GPU path with the product's default (the files read, hashed and probed in the probe
    # processes; decoded, resized and embedded in the GPU stage's threads), its probe processes started first, as
    # a run's scan of a real collection starts them before the first batch
    from indexing.work import PROBES

    [f.result() for f in [PROBES.get().submit(os.getpid) for _ in range(32)]]
    for path, workers in (("cpu", os.cpu_count() or 1), ("gpu", min(8, os.cpu_count() or 1))):
        for name, keys in (("content", {}), ("all_three", None)):
            rate_, seconds = indexer_rate(tmp, f"{path}-{name}", photos, n, bs, path, keys, workers)
            out[f"{path}_pipeline_{name}_img_s"] = rate_
            if seconds:
                out[f"gpu_stage_seconds_{name}"] = seconds
            print(path, name, rate_, seconds, flush=True)
    if args.mixed:
        mixed = make_mixed(tmp / "mixed", args.mixed)
        out["mixed"] = {"files": {k: len(v) for k, v in mixed.items()}}
        for path in ("cpu", "gpu"):
            for name, keys in (("content", {}), ("all_three", None)):
                rate_, seconds = indexer_rate(tmp, f"mixed-{path}-{name}", tmp / "mixed", args.mixed, bs, path, keys)
                out["mixed"][f"{path}_{name}_img_s"] = rate_
                if seconds:
                    out["mixed"][f"gpu_stage_seconds_{name}"] = seconds
                print("mixed", path, name, rate_, seconds, flush=True)

    # parity: per image and encoder, GPU-made input vs the CPU path's input, through the same tower
    m = min(n, 128)
    cpu_images = [decode(p, min_side=max(sizes.values()), max_pixels=10**9).image for p in paths[:m]]
    gpu_images = [t for i in range(0, m, bs) for t in dec.decode(blobs[i : min(m, i + bs)])]
    parity = {}
    for s, e in encs.items():
        with torch.inference_mode():
            g = modules[s](model_inputs(gpu_images, sizes[s], *NORMS[s]).half()).float().cpu().numpy()
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        c = e.encode_images(cpu_images)
        cos = (g * c).sum(axis=1)
        top_g = np.argsort(-(g @ g.T), axis=1)[:, 1:11]
        top_c = np.argsort(-(c @ c.T), axis=1)[:, 1:11]
        same = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_g, top_c, strict=True)]))
        parity[s] = {"min_cos": float(cos.min()), "mean_cos": float(cos.mean()), "top10_overlap": same}
    out["parity"] = parity
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
