"""Recall of the approximate indices (issue 14) on vectors real encoders make, not on synthetic clusters: the
full-size random-initialised encoders (content ViT-B/16, style ViT-L/14, the SD VAE texture descriptor) embed
generated pictures on the GPU machine; text queries go through the real text towers; the Searcher's fused top
50 through the approximate indices is compared with the exact fused ranking by brute force, for several nprobe.

    python bench/scale_recall.py [--pictures 50000] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scale import recall  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from indexing.catalog import Catalog, vector_blob  # noqa: E402

WORDS = ["red", "blue", "green", "yellow", "dark", "bright", "striped", "dotted", "round", "square", "sunset",
         "forest", "beach", "city", "portrait", "painting", "sketch", "watercolour", "photo", "texture"]  # fmt: skip


def picture(i: int) -> Image.Image:
    """A 256 px picture of one of 300 themes (palette, shapes, texture), varied per picture."""
    rng = np.random.default_rng(i)
    theme = np.random.default_rng(i % 300)
    base = theme.uniform(0, 255, (4, 4, 3))
    base = base + rng.normal(0, 25, base.shape)
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).resize((256, 256), Image.Resampling.BICUBIC)
    d = ImageDraw.Draw(im)
    for _ in range(int(theme.integers(1, 8))):
        x, y = rng.integers(0, 200, 2)
        w, h = theme.integers(10, 120, 2)
        colour = tuple(int(c) for c in theme.integers(0, 255, 3))
        (d.ellipse if theme.random() < 0.5 else d.rectangle)([int(x), int(y), int(x + w), int(y + h)], fill=colour)
    if theme.random() < 0.5:
        im = im.filter(ImageFilter.GaussianBlur(float(theme.uniform(0.5, 3))))
    arr = np.asarray(im, dtype=np.int16) + rng.normal(0, float(theme.uniform(2, 20)), (256, 256, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pictures", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--tiny", action="store_true", help="the tiny test models (a smoke run on the CPU)")
    ap.add_argument("--nprobe", type=int, nargs="+", default=[0, 8, 16, 32, 64], help="0: the exact indices")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    from models.tiny import write_full_random_models, write_tiny_models
    from search.engine import Part, Searcher
    from services import StyleSeek
    from settings import Settings

    tmp = scratch("scale-recall-")
    if args.tiny:
        write_tiny_models(tmp / "models")
    else:
        write_full_random_models(tmp / "models", keys=("content", "style", "texture"))
    device = "cuda" if os.environ.get("CUDA_VISIBLE_DEVICES", "0") != "" else "cpu"
    svc = StyleSeek(Settings(data_dir=tmp / "data", models_dir=tmp / "models", device=device, batch_size=128))
    encoders = svc.encoders
    cat: Catalog = svc.catalog
    for s, e in encoders.items():
        e.load()
        cat.check_space(s, e.dim, e.fingerprint)
    folder = cat.add_folder("/generated")
    n, t0 = args.pictures, time.monotonic()
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        for start in range(0, n, 1024):
            images = list(pool.map(picture, range(start, min(n, start + 1024))))
            vecs = {}
            for s, e in encoders.items():
                prepared = list(pool.map(e.prepare, images))
                vecs[s] = np.concatenate([e.encode_prepared(prepared[i : i + 128]) for i in range(0, len(images), 128)])
            with cat.transaction() as t:
                first = t.execute("SELECT COALESCE(MAX(id), 0) FROM images").fetchone()[0] + 1
                t.executemany(
                    "INSERT INTO images(folder_id, path, size, mtime, hash, status, indexed_at)"
                    " VALUES (?,?,1,1.0,?,'indexed',0)",
                    [(folder, f"/generated/{start + j:07d}.png", f"{start + j:032x}") for j in range(len(images))],
                )
                for s, v in vecs.items():
                    t.executemany(
                        "INSERT INTO vectors(image_id, space, vector) VALUES (?,?,?)",
                        ((first + j, s, vector_blob(v[j])) for j in range(len(images))),
                    )
    out: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "pictures": n,
                 "encode_s": round(time.monotonic() - t0, 1)}  # fmt: skip
    print(json.dumps(out), flush=True)
    rng = np.random.default_rng(5)

    def text(space: str) -> np.ndarray:
        words = " ".join(rng.choice(WORDS, 3))
        return encoders[space].encode_text([f"a {words}"])[0]

    queries = []
    for _ in range(args.queries):
        one = [Part("a", "content", 1.0, text("content"))]
        five = [Part("a", "content", 1.0, text("content")), Part("b", "content", 0.5, text("content")),
                Part("c", "style", 0.9, text("style")), Part("d", "style", 0.6, text("style")),
                Part("e", "content", -0.5, text("content"))]  # fmt: skip
        picture_id = int(rng.integers(1, n + 1))  # find similar, balanced: a collection picture's own vectors
        similar = [Part(f"#{picture_id}", s, w, cat.load_vectors(s, np.array([picture_id]), encoders[s].dim)[1][0])
                   for s, w in (("content", 0.5), ("style", 0.25), ("texture", 0.25))]  # fmt: skip
        queries.append((one, five, similar))
    from indexing.vectors import VectorIndex

    dims = {s: e.dim for s, e in encoders.items()}
    for nprobe in args.nprobe:  # 0: the exact indices through the same Searcher
        folder_ = tmp / f"ann-{nprobe}"
        folder_.mkdir()
        threshold = 1000 if nprobe else 0
        indices = {s: VectorIndex(folder_ / f"{s}.faiss", s, d, threshold, nprobe or 1) for s, d in dims.items()}
        t = time.monotonic()
        for idx in indices.values():
            idx.load_and_reconcile(cat)
        build = time.monotonic() - t
        searcher = Searcher(cat, indices.__getitem__, {})
        runs: dict[str, list] = {"one": [], "five": [], "similar": []}
        for one, five, similar in queries:
            for name, parts in (("one", one), ("five", five), ("similar", similar)):
                t = time.perf_counter()
                hits = searcher.fuse(parts, 50)
                runs[name].append(((time.perf_counter() - t) * 1e3, [h.image.id for h in hits], parts))
        out[f"nprobe_{nprobe}"] = {"build_s": round(build, 1), "recall_at_50": recall(cat, runs, dims),
                                   "median_ms": {k: round(float(np.median([x[0] for x in v])), 1)
                                                 for k, v in runs.items()}}  # fmt: skip
        print(nprobe, json.dumps(out[f"nprobe_{nprobe}"]), flush=True)
        if args.out:  # after each setting: a run cut short keeps what it measured
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
