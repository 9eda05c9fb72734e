"""Where a GPU batch's time goes after the hardware decoder (issue 13): the decode call against the resizes and
thumbnail JPEGs made from its output, each alone, under torch's profiler, and beside each other in two threads;
two ways of averaging the 12-MP pictures down before the antialiased resizes (indexing/gpu_resize.py's float16
avg_pool, against a sum read straight from the uint8 image); whether the decode call holds the GIL; and one
thread doing a batch's GPU work in turn (GPU JPEGs, waits) against overlapped (as gpu_stage does it now).

    python bench/gpu_prepare.py [--images 256] [--batch 64] [--out results.json] [--one-thread]

The pictures are bench/run.py's generated 12-MP JPEGs; batches cycle over them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import indexing.gpu as gpu  # noqa: E402
import indexing.gpu_resize as resize  # noqa: E402
from bench.run import make_photo  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from models.specs import OPENAI_MEAN, OPENAI_STD  # noqa: E402

SPACES = {"content": (224, OPENAI_MEAN, OPENAI_STD), "style": (224, OPENAI_MEAN, OPENAI_STD)}
SPACES["texture"] = (256, (0.5,) * 3, (0.5,) * 3)
POOL = resize._reduced


def reduced_sum(images: Any, idx: list[int], need: int) -> Any:
    """The box average read once from each uint8 picture: a (h/k, k, w/k, k, 3) view summed over both k axes in
    one reduction into the batch, no float copy of the whole picture (edge rows/columns past a whole k dropped)."""
    import torch

    h, w = int(images[idx[0]].shape[0]), int(images[idx[0]].shape[1])
    k = min(h, w) // (2 * need)
    if k <= 1:
        return POOL(images, idx, need)
    h2, w2 = h // k, w // k
    out = torch.empty((len(idx), h2, w2, 3), dtype=torch.float32, device=images[idx[0]].device)
    for j, i in enumerate(idx):
        torch.sum(images[i][: h2 * k, : w2 * k].view(h2, k, w2, k, 3), dim=(1, 3), dtype=torch.float32, out=out[j])
    return out.mul_(1.0 / (k * k)).half().permute(0, 3, 1, 2)


VARIANTS: dict[str, Callable] = {"pool": POOL, "sum": reduced_sum}


class GpuJpeg:
    """nvImageCodec's GPU JPEG encoder (quality 85), one per thread: what the GPU stage used for thumbnails until
    this bench measured what it cost the decode thread."""

    def __init__(self) -> None:
        from nvidia import nvimgcodec

        self.nv, self.own = nvimgcodec, threading.local()
        self.params = nvimgcodec.EncodeParams(quality_type=nvimgcodec.QualityType.QUALITY, quality_value=85)

    def __call__(self, images: list) -> list:
        import torch

        if getattr(self.own, "encoder", None) is None:
            self.own.encoder = self.nv.Encoder()
        wrapped = [self.nv.as_image(t) for t in images]
        stream = torch.cuda.current_stream().cuda_stream
        return self.own.encoder.encode(wrapped, "jpeg", params=self.params, cuda_stream=stream)


def pillow_jpeg(t: Any) -> bytes:
    """The GPU stage's thumbnail file now: Pillow's JPEG of the GPU-resized picture."""
    from PIL import Image

    from indexing.imageio import thumbnail_bytes

    return thumbnail_bytes(Image.fromarray(t.numpy()), 400, quality=85, fmt="JPEG")


def timed(fn: Callable[[], Any], reps: int) -> float:
    """Median seconds of fn, synchronised."""
    import torch

    xs = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        xs.append(time.perf_counter() - t)
    return float(np.median(xs))


def profile(fn: Callable[[], Any]) -> list[dict]:
    """The CUDA kernels fn runs, by total device time (top 12), and the host time of the ops that launch them."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    rows = []
    for e in sorted(prof.key_averages(), key=lambda e: -getattr(e, "device_time_total", 0))[:12]:
        rows.append(
            {
                "name": e.key[:80],
                "calls": e.count,
                "device_ms": round(getattr(e, "device_time_total", 0) / 1e3, 2),
                "host_ms": round(e.cpu_time_total / 1e3, 2),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--one-thread", action="store_true", help="only: the decode call, and one thread's batches")
    args = ap.parse_args()
    import torch

    from indexing.gpu_stage import SWITCH_INTERVAL

    sys.setswitchinterval(SWITCH_INTERVAL)  # as the GPU stage sets it while it runs

    tmp = scratch("gpu-prepare-")
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        paths = list(pool.map(make_photo, [(i, str(tmp / f"p{i:04d}.jpg")) for i in range(args.images)]))
    blobs = [Path(p).read_bytes() for p in paths]
    bs = args.batch
    batches = [blobs[i : i + bs] for i in range(0, len(blobs) - bs + 1, bs)]
    out: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(),
        "cpus": os.cpu_count(),
        "images": len(blobs),
        "batch": bs,
    }

    def save() -> None:
        print(json.dumps(out, indent=2), flush=True)
        if args.out:
            args.out.write_text(json.dumps(out, indent=2) + "\n")

    dec = gpu.GpuDecoder()
    dec.warm()
    ims = dec.decode(batches[0])
    torch.cuda.synchronize()

    # 1. the decode call: how long until it returns, and until its work is done
    calls, syncs = [], []
    for r in range(3 * len(batches)):
        torch.cuda.synchronize()
        t = time.perf_counter()
        dec.decode(batches[r % len(batches)], reuse=1)
        calls.append(time.perf_counter() - t)
        torch.cuda.synchronize()
        syncs.append(time.perf_counter() - t - calls[-1])
    out["decode_call_ms"] = round(1e3 * float(np.median(calls)), 1)
    out["decode_then_sync_ms"] = round(1e3 * float(np.median(syncs)), 2)
    out["decode_img_s"] = round(bs / (float(np.median(calls)) + float(np.median(syncs))), 1)
    save()

    jpeg = GpuJpeg()
    if not args.one_thread:
        # 2. each step alone, and its kernels
        def prep(variant: str, thumbs: bool = True) -> Callable[[], Any]:
            def run() -> Any:
                resize._reduced = VARIANTS[variant]
                try:
                    return resize.prepare_batch(ims, SPACES, 400 if thumbs else 0)
                finally:
                    resize._reduced = POOL

            return run

        for v in VARIANTS:
            prep(v)()
            out[f"prepare_{v}_ms"] = round(1e3 * timed(prep(v), 10), 2)
            out[f"prepare_{v}_inputs_only_ms"] = round(1e3 * timed(prep(v, False), 10), 2)
            out[f"prepare_{v}_kernels"] = profile(prep(v))
            save()
        ref, ref_small = prep("pool")()
        got, got_small = prep("sum")()
        out["sum_vs_pool_max_abs"] = {s: round(float((ref[s] - got[s]).abs().max()), 4) for s in SPACES}
        out["sum_vs_pool_thumb_max_abs"] = max(
            int((a.int() - b.int()).abs().max()) for a, b in zip(ref_small, got_small, strict=True)
        )
        torch.cuda.synchronize()
        small = [t.cuda() for t in ref_small]
        jpeg(small)
        out["encode_jpeg_ms"] = round(1e3 * timed(lambda: jpeg(small), 10), 2)
        out["encode_jpeg_kernels"] = profile(lambda: jpeg(small))
        out["pillow_jpeg_ms_one_thread"] = round(1e3 * timed(lambda: [pillow_jpeg(t) for t in ref_small], 3), 2)
        save()

        # 3. the GIL: a Python counting thread beside the decode loop, against it alone
        def count(stop: threading.Event, box: list[int]) -> None:
            n = 0
            while not stop.is_set():
                n += 1
            box.append(n)

        for name, work in (("alone", lambda: time.sleep(1.0)), ("beside_decode", None)):
            stop, box = threading.Event(), []
            th = threading.Thread(target=count, args=(stop, box))
            t = time.perf_counter()
            th.start()
            if work is not None:
                work()
            else:
                r = 0
                while time.perf_counter() - t < 1.0:
                    dec.decode(batches[r % len(batches)], reuse=1)
                    r += 1
            stop.set()
            th.join()
            out[f"python_counts_per_s_{name}"] = round(box[0] / (time.perf_counter() - t))
        save()

        # 4. decoding in one thread while another resizes and encodes thumbnails of a decoded batch, each on its own
        # stream (the decoder's high priority): does the resizing slow the decoder, and how far does each get?
        for v in VARIANTS:
            for thumbs in (True, False):
                stop = threading.Event()
                done = [0]

                def resize_loop(
                    v: str = v, thumbs: bool = thumbs, stop: threading.Event = stop, done: list[int] = done
                ) -> None:
                    with torch.cuda.stream(torch.cuda.Stream()):
                        while not stop.is_set():
                            _, sm = prep(v)()
                            if thumbs:
                                jpeg([t.cuda(non_blocking=True) for t in sm])
                            torch.cuda.current_stream().synchronize()
                            done[0] += 1

                th = threading.Thread(target=resize_loop)
                th.start()
                time.sleep(0.5)
                start = done[0]
                with torch.cuda.stream(torch.cuda.Stream(priority=-1)):
                    d2 = gpu.GpuDecoder()
                    d2.warm()
                    t = time.perf_counter()
                    for r in range(4 * len(batches)):
                        d2.decode(batches[r % len(batches)], reuse=1)
                        torch.cuda.current_stream().synchronize()
                    wall = time.perf_counter() - t
                stop.set()
                th.join()
                key = f"beside_{v}{'_and_jpeg' if thumbs else ''}"
                out[key] = {
                    "decode_img_s": round(4 * len(batches) * bs / wall, 1),
                    "resize_img_s": round((done[0] - start) * bs / wall, 1),
                }
                save()

    # 5. one thread, a batch's GPU work after another as gpu_stage's decode thread does it: in turn (decode, resize,
    # GPU JPEGs, wait), against overlapped (decode into the buffers of the batch before last, resizes queued, an
    # event; Pillow's JPEGs in 8 threads once the event is passed, waiting on it spinning or asleep; the next
    # decode call at once), and in turn with Pillow's JPEGs (the decode thread waits for the event)
    def in_turn() -> None:
        for r in range(2 * len(batches)):
            got = dec.decode(batches[r % len(batches)], reuse=1)
            _, sm = resize.prepare_batch(got, SPACES, 400)
            torch.cuda.current_stream().synchronize()
            jpeg([t.cuda() for t in sm])
            torch.cuda.current_stream().synchronize()

    def overlapped(blocking: bool, reuse: int = 2) -> Callable[[], None]:
        def run() -> None:
            with ThreadPoolExecutor(8) as pool:
                fs = []
                for r in range(2 * len(batches)):
                    got = dec.decode(batches[r % len(batches)], reuse=reuse)
                    _, sm = resize.prepare_batch(got, SPACES, 400)
                    made = torch.cuda.Event(blocking=blocking)
                    made.record()
                    if reuse == 1:
                        made.synchronize()
                    fs += [pool.submit(lambda t=t, e=made: (e.synchronize(), pillow_jpeg(t))) for t in sm]
                [f.result() for f in fs]

        return run

    for name, fn in (
        ("in_turn", in_turn),
        ("overlapped_spinning_waits", overlapped(False)),
        ("overlapped", overlapped(True)),
        ("in_turn_pillow_jpegs", overlapped(True, reuse=1)),
    ):
        with torch.cuda.stream(torch.cuda.Stream(priority=-1)):
            fn()
            out[f"one_thread_{name}_img_s"] = round(2 * len(batches) * bs / timed(fn, 1), 1)
        save()


if __name__ == "__main__":
    main()
