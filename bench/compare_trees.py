"""The content pipeline of two source trees side by side on the same pictures and model, alternating, so that
"nothing got slower" is a ratio from one run (used on the GPU machine: an older tree is extracted with
`git archive <commit> | tar -x -C .old`).

    python bench/compare_trees.py --trees .old . [--images 1024] [--workers 16] [--batch 64] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, shutil, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from services import StyleSeek
from settings import Settings
models, folder, workers, batch = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
data = Path(tempfile.mkdtemp())
s = Settings(models_dir=models, data_dir=data, batch_size=batch, decode_workers=workers, style_search=False)
svc = StyleSeek(s)
enc = svc.encoder
warm = getattr(enc, "warm", None)
(warm(text=False, image=True) if warm else enc.load())
r = svc.index_folders([folder])
assert r.failed == 0, r.errors[:3]
print(json.dumps({"images": r.indexed, "seconds": r.seconds, "images_per_s": r.indexed / r.seconds,
                  "device": enc.device}))
shutil.rmtree(data)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", nargs=2, type=Path, required=True)
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.run import images
    from models.tiny import write_full_random_models

    cache = Path(os.environ.get("STYLESEEK_BENCH_CACHE", "/tmp/styleseek-bench"))
    models = cache / "models-content"
    if not (models / "clip-vit-b-16-openai").exists():
        write_full_random_models(models, keys=("content",))
    folder = cache / "photos"
    images(folder, a.images)
    res: dict[str, list] = {str(t): [] for t in a.trees}
    for _ in range(a.rounds):
        for tree in a.trees:
            args = [
                sys.executable,
                "-c",
                CHILD,
                str(tree.resolve()),
                str(models),
                str(folder),
                str(a.workers),
                str(a.batch),
            ]
            out = subprocess.run(args, capture_output=True, text=True, timeout=900)
            if out.returncode != 0:
                raise SystemExit(f"{tree}: {out.stderr[-2000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            res[str(tree)].append(r)
            print(tree, json.dumps(r), flush=True)
    best = {t: max(x["images_per_s"] for x in rs) for t, rs in res.items()}
    old, new = (str(t) for t in a.trees)
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "runs": res,
        "best_images_per_s": best,
        "ratio": best[new] / best[old],
    }
    print(json.dumps(summary, indent=1))
    if a.out:
        a.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
