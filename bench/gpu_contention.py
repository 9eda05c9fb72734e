"""What slows nvImageCodec's batched decode inside the pipeline (issue 13): its rate alone, and beside each load
the Indexer's GPU path puts on the same process, one at a time: reader threads (read, hash, header checks: the
GIL mostly free, 3 MB allocated and freed a file), the same handing headers to probe processes, a thread
holding the GIL half the time (as the main thread's commits do), thumbnail writes, the towers on the GPU (in
a thread, and in a process of their own); and fed CodeStreams made beforehand instead of bytes. Per load:
img/s, and the CPU seconds of the decoding thread.

    python bench/gpu_contention.py [--images 1024] [--batch 64] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import make_photo  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from indexing.gpu import GpuDecoder, cpu_reason, jpeg_head  # noqa: E402
from indexing.imageio import jpeg_bytes  # noqa: E402

CAP_S = 40.0  # a load that starves the decoder is reported at the rate it reached by then


# "At the stage's pace": its ~700 img/s, as seconds a batch of 64, and seconds a file for each of 8 threads
BATCH_PACE = 64 / 700
PER_THREAD = 8 / 700


def readers(paths: list[str], stop: threading.Event, probes: bool, pace: float = 0.0) -> None:
    """Read, hash, check and (`probes`) probe file after file as the Indexer's readers do, one every `pace`
    seconds (0: flat out)."""
    from indexing.hashing import NEW_CATALOGS
    from indexing.scan import FileEntry
    from indexing.work import PROBES, probe_row, read_and_hash

    i = 0
    while not stop.is_set():
        _paced(pace, i)
        p = paths[i % len(paths)]
        data, _, _ = read_and_hash(p, NEW_CATALOGS)
        assert data is not None and cpu_reason(data) is None
        head = jpeg_head(data)
        if probes:
            PROBES.get().submit(probe_row, head, FileEntry(p, len(data), 1.0), 10**9).result()
        i += 1


_PACE = threading.local()  # each paced thread's start


def _paced(pace: float, i: int) -> None:
    """Sleep until this thread's i-th piece of work is due, `pace` seconds apart from its first (0: never)."""
    if not pace:
        return
    if i == 0:
        _PACE.start = time.perf_counter()
    time.sleep(max(0.0, _PACE.start + i * pace - time.perf_counter()))


def half_gil(stop: threading.Event) -> None:
    """Python for 100 µs, then 100 µs asleep, like a main thread committing rows between waits."""
    while not stop.is_set():
        t = time.perf_counter()
        while time.perf_counter() - t < 1e-4:
            pass
        time.sleep(1e-4)


def thumb_writes(folder: Path, stop: threading.Event) -> None:
    from basics import write_atomic

    data, i = os.urandom(30_000), 0
    while not stop.is_set():
        write_atomic(folder / f"{threading.get_ident()}-{i % 500}.jpg", data, fsync=False)
        i += 1


def towers(stop: threading.Event, graph: bool = False, pace: float = 0.0, reps: int = 1) -> None:
    """The content tower on batches of 64 until `stop`: as it is, or (`graph`) replayed from a CUDA graph as
    the GPU stage runs it, `reps` times a batch (7: about all three towers' GPU time), a batch every `pace`
    seconds (0: back to back; BATCH_PACE: the stage's)."""
    import open_clip
    import torch

    model = open_clip.create_model("ViT-B-16", pretrained=None).visual.half().cuda().eval()
    x = torch.randn(64, 3, 224, 224, device="cuda", dtype=torch.half)
    with torch.cuda.stream(torch.cuda.Stream()), torch.inference_mode():
        run = lambda: model(x)  # noqa: E731
        if graph:
            for _ in range(2):  # warm-up before the capture
                model(x)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g, capture_error_mode="thread_local"):  # the decoder's calls go on
                model(x)
            run = g.replay
        i = 0
        while not stop.is_set():
            _paced(pace, i)
            for _ in range(reps):
                run()
            torch.cuda.current_stream().synchronize()
            i += 1


def tower_process(stop: threading.Event, *args: object) -> None:
    """The content tower as `towers(*args)` runs it, in a process of its own (its own CUDA context and GIL),
    until `stop`: whether the decoder would keep its rate beside the towers if the two were split."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    done = ctx.Event()
    p = ctx.Process(target=towers, args=(done, *args), daemon=True)
    p.start()
    stop.wait()
    done.set()
    p.join(30)


def _thumbs(n: int = 64):  # noqa: ANN202
    """64 thumbnail-sized pictures (400x300 uint8, HWC) on the GPU, as the GPU stage encodes a batch's."""
    import torch

    return [torch.randint(0, 255, (300, 400, 3), dtype=torch.uint8, device="cuda") for _ in range(n)]


def nv_jpegs(stop: threading.Event, threads: int = 0) -> None:
    """nvImageCodec's GPU JPEG encoder on 64 thumbnails a call, on a stream of its own (the GPU stage's
    thumbnails); `threads`: the encoder's own host threads (0: nvImageCodec's default, one a core)."""
    import torch
    from nvidia import nvimgcodec as nv

    enc = nv.Encoder(max_num_cpu_threads=threads) if threads else nv.Encoder()
    params = nv.EncodeParams(quality_type=nv.QualityType.QUALITY, quality_value=85)
    small = _thumbs()
    with torch.cuda.stream(torch.cuda.Stream()):
        while not stop.is_set():
            cs = torch.cuda.current_stream().cuda_stream
            [bytes(memoryview(c)) for c in enc.encode([nv.as_image(t) for t in small], "jpeg", params=params,
                                                     cuda_stream=cs)]  # fmt: skip


def tv_jpegs(stop: threading.Event) -> None:
    """torchvision's GPU encode_jpeg (nvJPEG) on the same 64 thumbnails, the bytes copied to the host."""
    import torch
    from torchvision.io import encode_jpeg

    small = [t.permute(2, 0, 1).contiguous() for t in _thumbs()]
    with torch.cuda.stream(torch.cuda.Stream()):
        while not stop.is_set():
            [b.cpu() for b in encode_jpeg(small, quality=85)]


def _small_host() -> np.ndarray:
    """A 400x300 picture in host memory, as the CPU threads encode a thumbnail the GPU resized."""
    return np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)


def pillow_jpeg(small: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(small).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def cpu_jpegs(stop: threading.Event, encode: Callable[[np.ndarray], bytes], pace: float = 0.0) -> None:
    """JPEGs (quality 85) of 400x300 pictures from host memory, as the CPU threads write thumbnails, one every
    `pace` seconds (0: flat out)."""
    small, i = _small_host(), 0
    while not stop.is_set():
        _paced(pace, i)
        encode(small)
        i += 1


def resizes(
    blobs: list[bytes], stop: threading.Event, priority: int = -1, pace: float = 0.0, summed: bool = False
) -> None:
    """prepare_batch (the three encoders' inputs and the 400 px thumbnail) on one decoded batch, over and over,
    on a stream of that priority, a batch every `pace` seconds (0: back to back); `summed`: the pictures box-
    averaged by bench/gpu_prepare.py's sum straight from the uint8 picture instead of the product's avg_pool
    of a float16 copy (less memory traffic beside the decoder's)."""
    import torch

    import indexing.gpu_resize as gpu
    from models.specs import OPENAI_MEAN, OPENAI_STD

    if summed:
        from bench.gpu_prepare import reduced_sum

        gpu._reduced = reduced_sum  # this thread alone resizes in this bench
    with torch.cuda.stream(torch.cuda.Stream(priority=priority)):
        images = GpuDecoder().decode(blobs[:64])
        want = {"content": (224, OPENAI_MEAN, OPENAI_STD), "style": (224, OPENAI_MEAN, OPENAI_STD),
                "texture": (128, (0.5,) * 3, (0.5,) * 3)}  # fmt: skip
        i = 0
        while not stop.is_set():
            _paced(pace, i)
            gpu.prepare_batch(images, want, 400, host_thumbs=False)
            torch.cuda.current_stream().synchronize()
            i += 1


def together(stop: threading.Event, parts: list[tuple[Callable[[threading.Event], None], int]]) -> None:
    """Several loads at once (each (load, threads)), until `stop`: the stage's sides together, not one by one."""
    threads = [threading.Thread(target=fn, args=(stop,), daemon=True) for fn, k in parts for _ in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def gil_share(fn: Callable[[], object], seconds: float = 1.5) -> dict:
    """How much of the GIL a call leaves to other threads: a counting thread's rate while `fn` runs over and over
    in this thread, against its rate alone (1.0: the call holds no GIL; near 0: it holds it throughout)."""
    count, stop = [0], threading.Event()

    def counter() -> None:
        while not stop.is_set():
            count[0] += 1

    def counted(work: Callable[[], object] | None) -> tuple[float, int]:
        count[0], stop_at = 0, time.perf_counter() + seconds
        t = threading.Thread(target=counter)
        stop.clear()
        t.start()
        calls = 0
        while time.perf_counter() < stop_at:
            if work is None:
                time.sleep(0.01)
            else:
                work()
                calls += 1
        stop.set()
        t.join()
        return count[0] / seconds, calls

    alone, _ = counted(None)
    busy, calls = counted(fn)
    return {"counter_share": round(busy / alone, 3), "calls": calls}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import torch
    from nvidia import nvimgcodec

    from indexing.work import PROBES

    tmp = scratch("gpu-contention-")
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        paths = list(pool.map(make_photo, [(i, str(tmp / f"p{i:04d}.jpg")) for i in range(args.images)]))
    blobs = [Path(p).read_bytes() for p in paths]
    dec, bs, n = GpuDecoder(), args.batch, len(blobs)
    dec.decode(blobs[:bs])
    [f.result() for f in [PROBES.get().submit(os.getpid) for _ in range(32)]]  # the probe processes started
    streams = [nvimgcodec.CodeStream(b) for b in blobs]
    t = time.perf_counter()
    streams = [nvimgcodec.CodeStream(b) for b in blobs]
    made = time.perf_counter() - t
    t = time.perf_counter()
    mapped = [nvimgcodec.CodeStream(p) for p in paths]  # by path: nvImageCodec reads the file (the probes' feed)
    mapped_s = time.perf_counter() - t
    (tmp / "thumbs").mkdir()
    sys.setswitchinterval(0.0002)  # as the GPU stage sets it

    def rate(feed: list, reuse: bool = False, priority: int | None = None) -> dict:
        """img/s decoding `feed` in batches; `reuse`: each batch decoded into the last one's images (no device
        memory allocated and freed a batch); `priority`: on a stream of the thread's own with that priority
        (None: the legacy default stream)."""
        stream = torch.cuda.Stream(priority=priority) if priority is not None else None
        torch.cuda.synchronize()
        t, cpu, done, last = time.perf_counter(), time.thread_time(), 0, None
        for i in range(0, n, bs):
            batch = feed[i : i + bs]
            kw = {"images": last} if reuse and last is not None and len(last) == len(batch) else {}
            cs = stream.cuda_stream if stream is not None else 0
            got = dec._decoder().decode(batch, params=dec._params, cuda_stream=cs, **kw)
            last = got if reuse and all(im is not None for im in got) else None
            if stream is not None:
                stream.synchronize()
            done += len(batch)
            if time.perf_counter() - t > CAP_S:
                break
        torch.cuda.synchronize()
        took = time.perf_counter() - t
        cpu_s = (time.thread_time() - cpu) / done * 1000
        return {"img_s": round(done / took, 1), "decoder_thread_cpu_s_per_1000": round(cpu_s, 2)}

    out: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "gpu": torch.cuda.get_device_name(),
                 "cpus": os.cpu_count(), "images": n, "batch": bs,
                 "codestreams_made_s_per_1000": round(made / n * 1000, 3),
                 "codestreams_of_paths_made_s_per_1000": round(mapped_s / n * 1000, 3)}  # fmt: skip
    loads: list[tuple[str, Callable[[threading.Event], None], int]] = [
        ("alone", lambda s: None, 0),
        ("8 reader threads (read, hash, header)", lambda s: readers(paths, s, False), 8),
        ("8 reader threads handing headers to the probe processes", lambda s: readers(paths, s, True), 8),
        ("1 thread holding the GIL half the time", half_gil, 1),
        ("4 threads writing thumbnails", lambda s: thumb_writes(tmp / "thumbs", s), 4),
        ("the content tower on the GPU, batches of 64", towers, 1),
        ("the content tower in a process of its own", tower_process, 1),
        ("the content tower's graph at the stage's pace", lambda s: towers(s, True, BATCH_PACE), 1),
        (
            "the content tower's graph at the stage's pace, in a process",
            lambda s: tower_process(s, True, BATCH_PACE),
            1,
        ),
        ("the content tower's graph 7 times a batch at the stage's pace", lambda s: towers(s, True, BATCH_PACE, 7), 1),
        ("the content tower's graph 7 times, in a process", lambda s: tower_process(s, True, BATCH_PACE, 7), 1),
        ("nvImageCodec's GPU JPEG encoder, 64 thumbnails a call", nv_jpegs, 1),
        ("nvImageCodec's GPU JPEG encoder with 1 host thread", lambda s: nv_jpegs(s, 1), 1),
        ("torchvision's GPU encode_jpeg, 64 thumbnails a call", tv_jpegs, 1),
        ("the resizes of a decoded batch (prepare_batch)", lambda s: resizes(blobs, s), 1),
        ("the resizes on a low-priority stream", lambda s: resizes(blobs, s, 0), 1),
        ("the resizes at the stage's pace", lambda s: resizes(blobs, s, 0, BATCH_PACE), 1),
        (
            "the CPU side together: 8 readers with probes, 8 JPEG threads, half the GIL",
            lambda s: together(
                s, [(lambda e: readers(paths, e, True), 8), (lambda e: cpu_jpegs(e, jpeg_bytes), 8), (half_gil, 1)]
            ),
            1,
        ),
        (
            "the CPU side together, the resizes and the tower's graph at the stage's pace",
            lambda s: together(
                s,
                [
                    (lambda e: readers(paths, e, True), 8),
                    (lambda e: cpu_jpegs(e, jpeg_bytes), 8),
                    (half_gil, 1),
                    (lambda e: resizes(blobs, e, 0, BATCH_PACE), 1),
                    (lambda e: towers(e, True, BATCH_PACE), 1),
                ],
            ),
            1,
        ),
        ("the resizes at the stage's pace, summed from uint8", lambda s: resizes(blobs, s, 0, BATCH_PACE, True), 1),
        ("8 readers with probes at the stage's pace", lambda s: readers(paths, s, True, PER_THREAD), 8),
        ("8 JPEG threads at the stage's pace", lambda s: cpu_jpegs(s, jpeg_bytes, PER_THREAD), 8),
        (
            "the CPU side together at the stage's pace",
            lambda s: together(
                s,
                [
                    (lambda e: readers(paths, e, True, PER_THREAD), 8),
                    (lambda e: cpu_jpegs(e, jpeg_bytes, PER_THREAD), 8),
                    (half_gil, 1),
                ],
            ),
            1,
        ),
        ("Pillow's JPEG of 64 thumbnails in 8 threads", lambda s: cpu_jpegs(s, pillow_jpeg), 8),
        ("libjpeg-turbo's JPEG (simplejpeg, imageio.jpeg_bytes) in 8 threads", lambda s: cpu_jpegs(s, jpeg_bytes), 8),
    ]
    if os.environ.get("CONTENTION_ONLY"):
        loads = [x for x in loads if x[0] in os.environ["CONTENTION_ONLY"].split("|")]
    for name, fn, k in loads:
        stop = threading.Event()
        workers = [threading.Thread(target=fn, args=(stop,), daemon=True) for _ in range(k)]
        for w in workers:
            w.start()
        time.sleep(15 if "process" in name or "graph" in name else 3 if "tower" in name else 0.5)  # models loaded
        out[name] = {"bytes": rate(blobs), "as in the GPU stage": rate(blobs, reuse=True, priority=-1)}
        for i in range(2 if "pace" in name or "together" in name else 0):  # again: each rate is a second's
            out[name][f"as in the GPU stage, again {i}"] = rate(blobs, reuse=True, priority=-1)
            if "together" in name:  # CodeStreams made beforehand (by the readers, say): less Python in the call
                out[name][f"codestreams as in the GPU stage {i}"] = rate(streams, reuse=True, priority=-1)
        if "alone" in name or "content tower" in name:
            out[name]["images reused"] = rate(blobs, reuse=True)
            out[name]["own stream"] = rate(blobs, priority=0)
            out[name]["own high-priority stream"] = rate(blobs, priority=-1)
            out[name]["own high-priority stream, images reused"] = rate(blobs, reuse=True, priority=-1)
        if name in (
            "alone",
            "1 thread holding the GIL half the time",
            "8 reader threads handing headers to the probe processes",
        ):
            out[name]["codestreams"] = rate(streams)
        if "alone" in name:  # the files by path, as the probes' feed hands them over, twice: page cache warm
            for i in range(2):
                out[name][f"codestreams of paths as in the GPU stage {i}"] = rate(mapped, reuse=True, priority=-1)
                out[name][f"codestreams as in the GPU stage {i}"] = rate(streams, reuse=True, priority=-1)
        stop.set()
        for w in workers:
            w.join()
        print(name, out[name], flush=True)
    # the decoder alone with other backends' shares: DALI splits a batch between the hardware engine and the
    # CUDA decoder (hw_decoder_load 0.65-0.9); and the hardware decoder's buffers allocated ahead for the batch
    nv, kinds = nvimgcodec, nvimgcodec.BackendKind
    options = {
        "hardware 0.8 + CUDA (GPU_ONLY)": {
            "backends": [nv.Backend(kinds.HW_GPU_ONLY, 0.8), nv.Backend(kinds.GPU_ONLY)]
        },
        "hardware 0.65 + CUDA (GPU_ONLY)": {
            "backends": [nv.Backend(kinds.HW_GPU_ONLY, 0.65), nv.Backend(kinds.GPU_ONLY)]
        },
        "hardware 0.8 + hybrid (CPU Huffman)": {
            "backends": [nv.Backend(kinds.HW_GPU_ONLY, 0.8), nv.Backend(kinds.HYBRID_CPU_GPU)]
        },
        "preallocated batch of 64, 4000x3000": {
            "options": "nvjpeg_hw_decoder:preallocate_batch_size=64 nvjpeg_hw_decoder:preallocate_width_hint=4000"
            " nvjpeg_hw_decoder:preallocate_height_hint=3000"
        },
    }
    # which calls hold the GIL (a thread beside them waits for it: the GPU stage's other threads)
    from nvidia import nvimgcodec as nv

    enc, small = nv.Encoder(), _thumbs()
    jpeg = nv.EncodeParams(quality_type=nv.QualityType.QUALITY, quality_value=85)
    calls = {
        "decode of 64": lambda: dec.decode(blobs[:bs]),
        "nvImageCodec encode of 64 thumbnails": lambda: [
            bytes(memoryview(c)) for c in enc.encode([nv.as_image(t) for t in small], "jpeg", params=jpeg)
        ],
    }
    from indexing.gpu_resize import prepare_batch
    from models.specs import OPENAI_MEAN, OPENAI_STD

    decoded = dec.decode(blobs[:bs])
    want = {"content": (224, OPENAI_MEAN, OPENAI_STD), "style": (224, OPENAI_MEAN, OPENAI_STD)}
    calls["prepare_batch of 64 (resizes)"] = lambda: (
        prepare_batch(decoded, want, 400, False),
        torch.cuda.synchronize(),
    )
    try:
        from torchvision.io import encode_jpeg

        chw = [t.permute(2, 0, 1).contiguous() for t in small]
        calls["torchvision encode_jpeg of 64 thumbnails"] = lambda: [b.cpu() for b in encode_jpeg(chw, quality=85)]
    except Exception as e:  # noqa: BLE001 - an older torchvision: no GPU encoder
        out["torchvision encode_jpeg"] = f"{type(e).__name__}: {e}"[:200]
    host = _small_host()
    calls["Pillow's JPEG of 64 thumbnails"] = lambda: [pillow_jpeg(host) for _ in range(64)]
    calls["simplejpeg's JPEG of 64 thumbnails"] = lambda: [jpeg_bytes(host) for _ in range(64)]
    for name, fn in calls.items():
        fn()
        out[f"GIL left to others: {name}"] = gil_share(fn)
        print(name, out[f"GIL left to others: {name}"], flush=True)
    for name, kw in options.items() if not os.environ.get("CONTENTION_ONLY") else ():
        try:
            dec._own.decoder = nvimgcodec.Decoder(**kw)
            dec.decode(blobs[:bs])
            out[f"decoder: {name}"] = rate(blobs)
        except Exception as e:  # noqa: BLE001 - one option failing must not lose the rest
            out[f"decoder: {name}"] = {"error": f"{type(e).__name__}: {e}"[:300]}
        print(name, out[f"decoder: {name}"], flush=True)
    print(json.dumps(out, indent=2), flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
