"""Peak memory and time to index one 600-megapixel scan, StyleSeek's decoding against Pillow's full decode
(what the pipeline did before: whole file read into memory, decoded at full size, then reduced).

The scans are made by libvips' command line (`vips`, Debian's libvips-tools): 30000 x 20000 RGB of gaussian
noise, the worst case for compression, as (a) a striped deflate TIFF, (b) a tiled JPEG-compressed pyramid
TIFF, (c) a baseline JPEG at quality 85. Each measurement runs in its own process; the peak is that
process's ru_maxrss less the same process's before-decoding RSS (Python, Pillow, pyvips loaded).

    python bench/bigimage.py [--dir /tmp/bigscans] [--out bench/results/DATE-bigimage-MACHINE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
W, H = 30000, 20000

CHILD = r"""
import io, json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
from PIL import Image
from indexing.imageio import decode
from indexing.pipeline import read_and_hash
import pyvips  # loaded before the baseline reading, as the pipeline has it loaded
mode, path = sys.argv[2], sys.argv[3]
def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
base = rss_kb()
t0 = time.monotonic()
if mode == "styleseek":  # what Indexer._process does: hash (streamed above 64 MB), then decode from the path
    data, h, size = read_and_hash(path)
    d = decode(data if data is not None else path, name=path, min_side=224, min_long=400, max_pixels=2_000_000_000)
    out = d.image.size
else:  # before: the whole file in memory, Pillow at full size (draft helps JPEG only), then reduced
    data = open(path, "rb").read()
    Image.MAX_IMAGE_PIXELS = None
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (400, 224))
    im.load()
    out = im.reduce(max(1, min(im.size) // 224)).size
secs = time.monotonic() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"mode": mode, "seconds": round(secs, 2), "peak_mb": round((peak - base) / 1024, 1),
                  "process_peak_mb": round(peak / 1024, 1), "output": out}))
"""


def make_scans(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    noise = folder / "noise.v"
    files = {
        "TIFF, strips, deflate": folder / "scan_strip.tif",
        "TIFF, tiled pyramid, JPEG": folder / "scan_pyramid.tif",
        "JPEG, baseline, q85": folder / "scan.jpg",
    }
    if all(p.exists() for p in files.values()):
        return files
    print("making 600-MP scans with vips (a few minutes)...", file=sys.stderr)
    grey = folder / "grey.v"
    subprocess.run(["vips", "gaussnoise", noise, W, H, "--mean", "128", "--sigma", "40"], check=True)
    subprocess.run(["vips", "cast", noise, grey, "uchar"], check=True)
    rgb = folder / "rgb.v"
    subprocess.run(["vips", "bandjoin", f"{grey} {grey} {grey}", rgb], check=True)
    subprocess.run(["vips", "tiffsave", rgb, files["TIFF, strips, deflate"], "--compression", "deflate"], check=True)
    subprocess.run(
        ["vips", "tiffsave", rgb, files["TIFF, tiled pyramid, JPEG"], "--compression", "jpeg", "--tile", "--pyramid"],
        check=True,
    )
    subprocess.run(["vips", "jpegsave", rgb, files["JPEG, baseline, q85"], "--Q", "85"], check=True)
    for p in (noise, grey, rgb):
        p.unlink()
    return files


def measure(mode: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), mode, str(path)], capture_output=True, text=True, timeout=1800
    )
    if out.returncode != 0:
        return {"mode": mode, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path("/tmp/styleseek-bigscans"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    files = make_scans(args.dir)
    results = []
    for label, path in files.items():
        for mode in ("styleseek", "pillow-full"):
            r = {"file": label, "mb": round(path.stat().st_size / 1e6, 1), **measure(mode, path)}
            print(json.dumps(r), flush=True)
            results.append(r)
    payload = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "pixels": W * H,
        "results": results,
        "max_rss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    if args.out:
        args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
