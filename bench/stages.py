"""Where the indexing pipeline spends its time: the worker-side stages (read+hash, decode, thumbnail,
model input preparation) summed over all worker threads, the main thread's batches (encode, commit), and
the wall time, for one run of the real Indexer on generated 12-megapixel JPEGs with the full-size
random-initialised ViT-B/16.

    python bench/stages.py [--images 512] [--workers 16] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

import indexing.pipeline as pipeline  # noqa: E402
from bench.run import images  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from models.content import ContentEncoder  # noqa: E402
from models.tiny import write_full_random_models  # noqa: E402
from services import StyleSeek  # noqa: E402
from settings import Settings  # noqa: E402

SPENT: dict[str, float] = defaultdict(float)
LOCK = threading.Lock()


def timed(name: str, fn):  # noqa: ANN001, ANN201
    def wrapper(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            with LOCK:
                SPENT[name] += time.perf_counter() - t

    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--torch-threads", type=int, default=0, help="override torch's CPU threads after loading")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "styleseek-bench")
    args = ap.parse_args()
    folder = args.work / "photos"
    images(folder, args.images)
    models = args.work / "models"
    if not (models / "clip-vit-b-16-openai").exists():
        write_full_random_models(models, keys=("content",))
    s = Settings(
        data_dir=scratch("stages-"),
        models_dir=models,
        batch_size=args.batch_size,
        decode_workers=args.workers,
        style_search=False,
    )
    enc = ContentEncoder(s)
    enc.load()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    enc.encode_prepared([enc.prepare(Image.new("RGB", (224, 224)))] * args.batch_size)  # CUDA warm-up
    pipeline.content_hash = timed("hash", pipeline.content_hash)
    pipeline.decode = timed("decode (EXIF + draft JPEG)", pipeline.decode)
    pipeline.thumbnail_bytes = timed("thumbnail (resize + WebP)", pipeline.thumbnail_bytes)
    enc.prepare = timed("prepare (model input)", enc.prepare)
    enc.encode_prepared = timed("main: encode batch", enc.encode_prepared)
    pipeline.Indexer._commit = timed("main: encode + commit", pipeline.Indexer._commit)
    svc = StyleSeek(s, content_encoder=enc, style_encoders={})
    t = time.perf_counter()
    r = svc.index_folders([folder])
    wall = time.perf_counter() - t
    worker_total = sum(v for k, v in SPENT.items() if not k.startswith("main"))
    out = {
        "device": enc.device,
        "cpus": os.cpu_count(),
        "images": r.indexed,
        "wall_s": round(wall, 2),
        "images_per_s": round(r.indexed / wall, 1),
        "torch_threads": __import__("torch").get_num_threads(),
        "worker_stage_ms_per_image": {
            k: round(v / r.indexed * 1000, 2) for k, v in SPENT.items() if not k.startswith("main")
        },
        "worker_busy_fraction": round(worker_total / (wall * args.workers), 3),
        "main_s": {k: round(v, 2) for k, v in SPENT.items() if k.startswith("main")},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
