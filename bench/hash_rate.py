"""The content hash on this machine (issue 13): a file read and hashed with each HashKind (indexing/hashing.py),
and a GPU run's whole per-file work in a probe process (work.scan_files: read, hash, check, probe), beside the
CPU path's own decode of the same photos (Pillow's draft, as the index reads a 12-MP JPEG), so the hash's share
of a file's CPU work shows; one core, best of 3.

    python bench/hash_rate.py [--images 32] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import images  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from indexing.hashing import HashKind  # noqa: E402
from indexing.imageio import decode  # noqa: E402
from indexing.scan import FileEntry  # noqa: E402
from indexing.work import read_and_hash, scan_files  # noqa: E402


def best_ms(fn, paths: list[str]) -> float:  # noqa: ANN001
    """ms a file, the best of 3 passes over all of them."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for p in paths:
            fn(p)
        best = min(best, (time.perf_counter() - t) / len(paths) * 1e3)
    return round(best, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    paths = [str(p) for p in images(scratch("hash-rate-"), args.images)]
    out: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "mean_mb": round(sum(Path(p).stat().st_size for p in paths) / len(paths) / 1e6, 2),
        "read_only_ms": best_ms(lambda p: Path(p).read_bytes(), paths),
    }
    for kind in HashKind:
        out[f"read_and_hash_{kind.value}_ms"] = best_ms(lambda p, k=kind: read_and_hash(p, k), paths)
    entry = {p: FileEntry(p, Path(p).stat().st_size, 1.0) for p in paths}
    out["gpu_run_scan_files_ms"] = best_ms(lambda p: scan_files([entry[p]], HashKind.XXH3, 10**9, 10**8, True), paths)
    out["cpu_path_decode_ms"] = best_ms(lambda p: decode(p, min_side=224, max_pixels=10**9), paths)
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
