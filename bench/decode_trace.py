"""Where nvImageCodec's decode call spends its time inside the Indexer, against the same calls alone (issue 13).

PyTorch's profiler (CUPTI) records each CUDA runtime and driver call of the process with its thread, and the
GPU's kernels and copies. Each decode call is timed (nvImageCodec's own call, and GpuDecoder.decode around it,
whose rest is the tensors made of its pictures); then, per call, the API calls and GPU work inside its span are
summed by thread and name, and the medians over the calls are compared: the calls alone (a thread of their own,
decoding as the GPU stage does, into reused buffers on a high-priority stream) and in an Indexer content run
over the same files. The part of a call in no API call is its host work (parsing, copies into pinned memory)
or a wait for a lock or the GIL.

    python bench/decode_trace.py --images 1024 --copies 4 --photos /tmp/photos --out DIR
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.gpu_decode as gd  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from indexing.gpu import GpuDecoder  # noqa: E402

CALLS: list[dict] = []  # per decode call: thread, kind ("inner": nvImageCodec's, "outer": GpuDecoder.decode), ns
NAMES: dict[int, str] = {}  # Python threads' native ids -> names


def _timed() -> None:
    """Record each decode call's span (wall-clock ns, the profiler's clock) and thread."""
    made, outer = GpuDecoder._decoder, GpuDecoder.decode

    def span(kind: str, fn, *a: object, **kw: object) -> object:  # noqa: ANN001
        t = time.time_ns()
        try:
            return fn(*a, **kw)
        finally:
            th = threading.current_thread()
            cupti = (th.ident or 0) & 0xFFFFFFFF  # CUPTI names a thread by its pthread id's low 32 bits
            NAMES[th.native_id] = NAMES[cupti] = th.name
            ids = (th.native_id, cupti)
            CALLS.append({"tid": th.native_id, "ids": ids, "kind": kind, "start": t, "end": time.time_ns()})

    class Inner:
        def __init__(self, d: object) -> None:
            self._d = d

        def decode(self, *a: object, **kw: object) -> object:
            return span("inner", self._d.decode, *a, **kw)  # type: ignore[attr-defined]

    def decoder(self: GpuDecoder) -> object:
        d = made(self)
        return d if isinstance(d, Inner) else Inner(d)

    def decode(self: GpuDecoder, blobs: list, reuse: int = 0) -> list:
        return span("outer", outer, self, blobs, reuse)  # type: ignore[return-value]

    GpuDecoder._decoder, GpuDecoder.decode = decoder, decode  # type: ignore[method-assign]


def _profiled(fn, trace: Path) -> list[dict]:  # noqa: ANN001
    """fn() under the profiler; its events (chrome trace) with ts in wall-clock µs."""
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    acts = [ProfilerActivity.CPU, ProfilerActivity.CUDA]
    with profile(activities=acts) as prof:
        with record_function("clock-mark"):
            mark = time.time_ns()
        fn()
        torch.cuda.synchronize()
    prof.export_chrome_trace(str(trace))
    events = json.loads(trace.read_text())["traceEvents"]
    marks = [e for e in events if e.get("name") == "clock-mark" and e.get("ph") == "X"]
    shift = mark / 1e3 - float(marks[0]["ts"]) if marks else 0.0  # the trace's µs -> wall-clock µs
    for e in events:
        if "ts" in e:
            e["ts"] = float(e["ts"]) + shift
    return events


def summarise(events: list[dict], calls: list[dict], tids: set[int]) -> dict:
    """Medians over the calls (of `tids`' threads) of what falls inside each: API time by thread and name, GPU
    time by kind and name, the caller's time in no API call."""
    api = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("cuda_runtime", "cuda_driver")]
    gpu = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    api.sort(key=lambda e: e["ts"])
    gpu.sort(key=lambda e: e["ts"])
    api_ts, gpu_ts = np.array([e["ts"] for e in api]), np.array([e["ts"] for e in gpu])
    out: dict = {}
    for kind in ("inner", "outer"):
        mine = [c for c in calls if c["kind"] == kind and c["tid"] in tids]
        rows: list[dict[str, float]] = []
        for c in mine:
            s, e = c["start"] / 1e3, c["end"] / 1e3
            got: dict[str, float] = defaultdict(float)
            got["call ms"] = (e - s) / 1e3
            covered = []
            for ev in api[np.searchsorted(api_ts, s) : np.searchsorted(api_ts, e)]:
                who = "caller" if ev["tid"] in c["ids"] else NAMES.get(ev["tid"], "native")
                got[f"api {who} {ev['cat'][5:]} {ev['name']} ms"] += ev.get("dur", 0) / 1e3
                got[f"api {who} {ev['cat'][5:]} {ev['name']} n"] += 1
                if who == "caller" and ev["cat"] == "cuda_runtime":
                    covered.append((ev["ts"], ev["ts"] + ev.get("dur", 0)))
            got["caller in no runtime call ms"] = (e - s - _union(covered, s, e)) / 1e3
            for ev in gpu[np.searchsorted(gpu_ts, s) : np.searchsorted(gpu_ts, e)]:
                name = ev["name"][:60]
                got[f"gpu {ev['cat']} {name} ms"] += ev.get("dur", 0) / 1e3
                got[f"gpu {ev['cat']} {name} n"] += 1
                if "bytes" in ev.get("args", {}):
                    got[f"gpu {ev['cat']} {name} MB"] += ev["args"]["bytes"] / 1e6
            rows.append(got)
        if not rows:
            continue
        keep = rows[3:] if len(rows) > 8 else rows  # the first calls are the decoder's start
        keys = {k for r in keep for k in r}
        med = {k: round(float(np.median([r.get(k, 0.0) for r in keep])), 3) for k in keys}
        top = sorted(med.items(), key=lambda kv: (-kv[1] if kv[0].endswith("ms") else 0, kv[0]))
        first = [round(r["call ms"], 1) for r in rows[:3]]
        out[kind] = {"calls": len(rows), "first 3 ms": first, "median": dict(top)}
    return out


def _union(spans: list[tuple[float, float]], s: float, e: float) -> float:
    total, end = 0.0, s
    for a, b in sorted(spans):
        a, b = max(a, end), min(b, e)
        if b > a:
            total, end = total + b - a, b
    return total


def threads_api(events: list[dict]) -> dict:
    """The whole profile's API time by thread: what else calls CUDA beside the decoder."""
    got: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("ph") == "X" and e.get("cat") in ("cuda_runtime", "cuda_driver"):
            name = NAMES.get(e["tid"], "native")
            got[f"{name.rstrip('0123456789_-')} {e['cat'][5:]}"] += e.get("dur", 0) / 1e6
    return {k: round(v, 3) for k, v in sorted(got.items(), key=lambda kv: -kv[1])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--photos", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import torch

    from indexing.gpu import batch_pixels, gpu_memory
    from indexing.gpu_stage import BUFFERS
    from indexing.work import PROBES
    from models.tiny import write_full_random_models

    gd._record_stage_seconds()
    _timed()
    tmp = scratch("decode-trace-")
    photos = args.photos or tmp / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    paths = gd.photo_set(photos, args.images, args.copies)
    blobs = [p.read_bytes() for p in paths]
    n, bs = len(blobs), args.batch
    write_full_random_models(tmp / "models", keys=("content", "style", "texture"))
    [f.result() for f in [PROBES.get().submit(os.getpid) for _ in range(32)]]
    args.out.mkdir(parents=True, exist_ok=True)
    out: dict = {"gpu": torch.cuda.get_device_name(), "images": n, "batch": bs, "date": time.strftime("%F %T")}

    def alone() -> None:  # the decode calls as the GPU stage makes them, in a thread of their own
        def run() -> None:
            dec = GpuDecoder()
            dec.plan(bs, batch_pixels(gpu_memory(dec), BUFFERS))
            with torch.cuda.stream(torch.cuda.Stream(priority=-1)):
                dec.warm()
                for i in range(0, n - bs + 1, bs):
                    dec.decode(blobs[i : i + bs], reuse=BUFFERS)
                torch.cuda.current_stream().synchronize()

        th = threading.Thread(target=run, name="alone")
        th.start()
        th.join()

    def indexer(name: str) -> None:
        rate, seconds = gd.indexer_rate(tmp, name, photos, n, bs, "gpu", {}, gd.Without.READERS)
        out[f"indexer {name} img/s"] = round(rate, 1)
        print(name, round(rate, 1), {k: v for k, v in seconds.items() if k != "thread_cpu_seconds"}, flush=True)

    indexer("unprofiled-1")  # everything started and warmed once
    t = time.perf_counter()
    alone()
    out["alone unprofiled img/s"] = round(n / (time.perf_counter() - t), 1)
    for phase, fn in (("alone", alone), ("indexer", lambda: indexer("profiled"))):
        CALLS.clear()
        t = time.perf_counter()
        events = _profiled(fn, tmp / f"{phase}.json")
        out[f"{phase} profiled s"] = round(time.perf_counter() - t, 2)
        tids = {c["tid"] for c in CALLS if NAMES.get(c["tid"], "").startswith(("alone", "gpu-decode"))}
        out[phase] = summarise(events, list(CALLS), tids)
        out[f"{phase} API seconds by thread"] = threads_api(events)
        raw = (tmp / f"{phase}.json").read_bytes()
        packed = gzip.compress(raw, 6)
        if len(packed) < 15 << 20:
            (args.out / f"{phase}-trace.json.gz").write_bytes(packed)
        print(phase, json.dumps(out[phase], indent=1)[:6000], flush=True)
    indexer("unprofiled-2")
    (args.out / "decode-trace.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
