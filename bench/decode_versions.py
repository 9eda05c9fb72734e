"""What the real-file decoding (colour management, container orientation, EXIF from the decoder's block) costs
per ordinary photo: `indexing.imageio.decode` of this tree against another tree's (e.g. the commit before
issue 9, checked out with `git worktree add /tmp/before <commit>`), on the same files, in one run.

Files (made here with Pillow and exiftool): 12-MP JPEGs at quality 90 with EXIF, the same with an embedded
Adobe RGB profile (ghostscript's a98.icc), and 12-MP HEICs (pillow-heif, irot + EXIF Orientation 6).

    python bench/decode_versions.py /tmp/before [--n 24] [--out bench/results/DATE-decode-versions.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from indexing.imageio import decode
files = json.loads(sys.argv[2])
for p in files[:2]:  # warm up: plugins, profiles
    decode(open(p, "rb").read(), min_side=224, min_long=400, max_pixels=2_000_000_000)
t0 = time.perf_counter()
for p in files:
    decode(open(p, "rb").read(), min_side=224, min_long=400, max_pixels=2_000_000_000)
print(json.dumps((time.perf_counter() - t0) / len(files) * 1000))
"""


def make_files(folder: Path, n: int) -> dict[str, list[str]]:
    import pillow_heif

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    icc = Path("/usr/share/color/icc/ghostscript/a98.icc").read_bytes()
    out: dict[str, list[str]] = {
        "JPEG 12 MP": [],
        "JPEG 12 MP + Adobe RGB profile": [],
        "HEIC 12 MP, irot + EXIF 6": [],
    }
    for i in range(n):
        y, x = np.mgrid[0:3000, 0:4000].astype(np.float32)
        img = np.stack([x / 16 + i, y / 12, (x + y) / 28], -1) % 255 + rng.normal(0, 8, (3000, 4000, 3))
        im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        ex = Image.Exif()
        ex[0x0110] = "bench"
        a = folder / f"plain_{i}.jpg"
        im.save(a, quality=90, exif=ex.tobytes())
        b = folder / f"adobe_{i}.jpg"
        im.save(b, quality=90, exif=ex.tobytes(), icc_profile=icc)
        ex[0x0112] = 6
        c = folder / f"phone_{i}.heic"
        pillow_heif.from_pillow(im).save(str(c), quality=80, exif=ex.tobytes())
        for key, p in zip(out, (a, b, c), strict=True):
            out[key].append(str(p))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path, help="the other source tree")
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/styleseek-decode-versions"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    files = make_files(args.dir, args.n)
    rows = []
    for kind, paths in files.items():
        ms = {}
        for label, tree in (("before", args.before), ("now", ROOT)):
            r = subprocess.run(
                [sys.executable, "-c", CHILD, str(tree), json.dumps(paths)], capture_output=True, text=True
            )
            ms[label] = round(float(r.stdout.strip()), 1) if r.returncode == 0 else None
        row = {"files": kind, "n": len(paths), **{f"{k}_ms": v for k, v in ms.items()}}
        if ms["before"] and ms["now"]:
            row["ratio"] = round(ms["now"] / ms["before"], 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.out:
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
