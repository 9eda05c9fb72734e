"""What Ray costs on one machine (issue 14): the same folder of 12-MP photos embedded by the single-machine
pipeline (`styleseek index`) and by `styleseek index --ray local` (actors in Ray's local mode, Parquet shards)
plus `styleseek import`, side by side in one run, with the full-size random content model. On one machine Ray
can only add overhead; the figure says how much, so that a cluster's speed-up can be judged against it.

    python bench/ray_local.py [--images 200] [--workers 2] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import make_photo  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from models.tiny import write_full_random_models  # noqa: E402
from settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    from services import StyleSeek

    tmp = scratch("ray-local-")
    photos = tmp / "photos"
    photos.mkdir()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(make_photo, [(i, str(photos / f"p{i:04d}.jpg")) for i in range(args.images)]))
    write_full_random_models(tmp / "models", keys=("content",))

    def settings(name: str) -> Settings:
        return Settings(data_dir=tmp / name, models_dir=tmp / "models", style_search=False)

    warm = StyleSeek(settings("warm"))  # converts the model for the CPU engine once, outside both clocks
    warm.encoder.load()
    t = time.monotonic()
    single = StyleSeek(settings("single")).index_folders([photos])
    single_s = time.monotonic() - t
    assert single.indexed == args.images, single
    cluster = StyleSeek(settings("cluster"))
    t = time.monotonic()
    ran = cluster.index_on_ray([photos], tmp / "shards", "local", args.workers)
    embed_s = time.monotonic() - t
    t = time.monotonic()
    imported = cluster.import_shards(tmp / "shards")
    import_s = time.monotonic() - t
    assert imported["indexed"] == args.images, imported
    out = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
           "images": args.images, "workers": args.workers, "pipeline_s": round(single_s, 1),
           "pipeline_img_s": round(args.images / single_s, 1), "ray_embed_s": round(embed_s, 1),
           "ray_import_s": round(import_s, 1), "ray_img_s": round(args.images / (embed_s + import_s), 1),
           "ray_over_pipeline": round((embed_s + import_s) / single_s, 2), "ray_reported": ran}  # fmt: skip
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
