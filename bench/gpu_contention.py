"""What slows nvImageCodec's batched decode inside the pipeline (issue 13): its rate alone, and while other
threads of the same process do each kind of work the pipeline's readers do: hashing (BLAKE2b releases the
GIL), probing EXIF/XMP from the header (Python, holding the GIL), a pure-Python loop; and while another
process hashes (the cores busy, the GIL free).

    python bench/gpu_contention.py [--images 512] [--out results.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import make_photo  # noqa: E402
from indexing.gpu import GpuDecoder  # noqa: E402
from indexing.imageio import probe  # noqa: E402


def spin_hash(blobs: list[bytes], stop: threading.Event) -> None:
    while not stop.is_set():
        for b in blobs[:16]:
            hashlib.blake2b(b, digest_size=16).digest()


def spin_probe(blobs: list[bytes], stop: threading.Event) -> None:
    while not stop.is_set():
        for b in blobs[:16]:
            probe(b, name="x.jpg", max_pixels=10**9)


def spin_python(_: list[bytes], stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def hash_forever(path: str) -> None:
    data = Path(path).read_bytes()
    while True:
        hashlib.blake2b(data, digest_size=16).digest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import torch

    tmp = Path(tempfile.mkdtemp(prefix="gpu-contention-"))
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        paths = list(pool.map(make_photo, [(i, str(tmp / f"p{i:04d}.jpg")) for i in range(args.images)]))
    blobs = [Path(p).read_bytes() for p in paths]
    dec, bs, n = GpuDecoder(), args.batch, len(blobs)
    dec.decode(blobs[:bs])

    def rate() -> float:
        best = 0.0
        for _ in range(3):
            torch.cuda.synchronize()
            t = time.perf_counter()
            for i in range(0, n, bs):
                dec.decode(blobs[i : i + bs])
            torch.cuda.synchronize()
            best = max(best, n / (time.perf_counter() - t))
        return round(best, 1)

    out: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "gpu": torch.cuda.get_device_name(),
                 "cpus": os.cpu_count(), "images": n, "alone": rate()}  # fmt: skip
    threads = max(1, (os.cpu_count() or 2) // 2)
    for name, fn, k in (("hashing threads", spin_hash, threads), ("probing threads", spin_probe, threads),
                        ("one pure-Python thread", spin_python, 1), ("probing threads, 2", spin_probe, 2)):  # fmt: skip
        stop = threading.Event()
        workers = [threading.Thread(target=fn, args=(blobs, stop), daemon=True) for _ in range(k)]
        for w in workers:
            w.start()
        time.sleep(0.5)
        out[f"with {k} {name}"] = rate()
        stop.set()
        for w in workers:
            w.join()
        print(name, out[f"with {k} {name}"], flush=True)
    procs = [multiprocessing.Process(target=hash_forever, args=(paths[0],), daemon=True) for _ in range(threads)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    out[f"with {threads} hashing processes"] = rate()
    for p in procs:
        p.terminate()
    out["switch_interval_0.0002_with_probing_threads"] = None
    sys.setswitchinterval(0.0002)
    stop = threading.Event()
    workers = [threading.Thread(target=spin_probe, args=(blobs, stop), daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    out["switch_interval_0.0002_with_probing_threads"] = rate()
    stop.set()
    print(json.dumps(out, indent=2), flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
