"""StyleSeek benchmarks, all in one run so that the figures compare side by side.

Indexing: the pipeline (StyleSeek's Indexer: scan, hash, EXIF, draft decode, thumbnails, batched encode,
SQLite commits) against a naive loop (full PIL decode, one image per forward pass) and against the model's
own batched forward pass on pre-decoded inputs (the ceiling), with the full-size random-initialised
ViT-B/16 on generated 12-megapixel JPEGs. Search: latency of text search over 10k and 100k vectors.

    python bench/run.py [--images 200] [--naive-images 200] [--batch-size 16] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch  # noqa: E402
from indexing.catalog import Catalog, vector_blob  # noqa: E402
from indexing.imageio import decode  # noqa: E402
from indexing.vectors import VectorIndex  # noqa: E402
from models.content import ContentEncoder  # noqa: E402
from models.style import StyleEncoder  # noqa: E402
from models.texture import TextureEncoder  # noqa: E402
from models.tiny import write_full_random_models  # noqa: E402
from search.engine import Searcher  # noqa: E402
from search.query import Term  # noqa: E402
from services import StyleSeek  # noqa: E402
from settings import Settings  # noqa: E402


def make_photo(args: tuple[int, str]) -> str:
    """A 4000x3000 JPEG with photo-like statistics: smooth shapes, texture, sensor noise (~3 MB at q90)."""
    i, path = args
    rng = np.random.default_rng(i)
    small = rng.uniform(0, 255, (12, 16, 3)).astype(np.uint8)
    img = Image.fromarray(small).resize((4000, 3000), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.int16)
    arr += rng.normal(0, 6, arr.shape).astype(np.int16)
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)
    return path


def images(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo{i:05d}.jpg" for i in range(n)]
    todo = [(i, str(p)) for i, p in enumerate(paths) if not p.exists()]
    if todo:
        with ProcessPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(make_photo, todo, chunksize=4))
    return paths


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def bench_model_only(enc: ContentEncoder, paths: list[Path], bsz: int) -> dict:
    def prep(p: Path):  # noqa: ANN202 - decoding is not timed here: this measures the model alone
        return enc.prepare(decode(p.read_bytes(), min_side=enc.input_size, max_pixels=10**9).image)

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        prepared = list(pool.map(prep, paths))
    enc.encode_prepared(prepared[:bsz])  # warm-up
    sync(enc)
    t = time.perf_counter()
    for i in range(0, len(prepared), bsz):
        enc.encode_prepared(prepared[i : i + bsz])
    sync(enc)
    dt = time.perf_counter() - t
    return {"images": len(prepared), "seconds": dt, "images_per_s": len(prepared) / dt}


def sync(enc: ContentEncoder) -> None:
    if enc.device == "cuda":
        import torch

        torch.cuda.synchronize()


def bench_pipeline(enc: ContentEncoder, folder: Path, bsz: int, workers: int, tmp: Path) -> dict:
    s = Settings(
        data_dir=tmp / f"pipeline-{workers}", models_dir=tmp / "models", batch_size=bsz, decode_workers=workers
    )
    svc = StyleSeek(s, content_encoder=enc)
    r = svc.index_folders([folder])
    assert r.failed == 0, r.errors
    return {"workers": workers, "images": r.indexed, "seconds": r.seconds, "images_per_s": r.indexed / r.seconds}


def bench_naive(enc: ContentEncoder, paths: list[Path]) -> dict:
    t = time.perf_counter()
    for p in paths:
        img = ImageOps.exif_transpose(Image.open(p)).convert("RGB")  # full-resolution decode
        enc.encode_prepared([enc.prepare(img)])  # one image per forward pass
    sync(enc)
    dt = time.perf_counter() - t
    return {"images": len(paths), "seconds": dt, "images_per_s": len(paths) / dt}


def clustered(n: int, d: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    x = centers[rng.integers(0, len(centers), n)] + rng.normal(0, 0.6 / np.sqrt(d), (n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def bench_catalog(path: Path, n: int) -> Catalog:
    """A catalog of n indexed images (ids 1..n) with no files behind them: enough to search."""
    cat = Catalog(path)
    with cat.transaction() as t:
        t.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/bench', 0)")
        t.executemany(
            "INSERT INTO images(id, folder_id, path, size, mtime, hash, status, indexed_at) "
            "VALUES (?, 1, ?, 0, 0, ?, 'indexed', 0)",
            ((i + 1, f"/bench/{i}.jpg", f"{i:032x}") for i in range(n)),
        )
    return cat


def bench_search(enc: ContentEncoder, n: int, tmp: Path, queries: int = 200) -> dict:
    d = enc.dim
    rng = np.random.default_rng(n)
    centers = rng.normal(0, 1, (256, d))
    vecs = clustered(n, d, rng, centers)
    cat = bench_catalog(tmp / f"search-{n}" / "db.sqlite3", n)
    cat.check_space("content", d, enc.fingerprint)
    with cat.transaction() as t:
        t.executemany(
            "INSERT INTO vectors(image_id, space, vector) VALUES (?, 'content', ?)",
            ((i + 1, vector_blob(vecs[i])) for i in range(n)),
        )
    index = VectorIndex(tmp / f"search-{n}" / "content.faiss", "content", d)
    t0 = time.perf_counter()
    index.load_and_reconcile(cat)  # the start-up rebuild from SQLite
    rebuild = time.perf_counter() - t0
    qs = clustered(queries, d, rng, centers)
    faiss_ms = []
    for q in qs:
        t = time.perf_counter()
        index.search(q[None, :], 50)
        faiss_ms.append((time.perf_counter() - t) * 1e3)
    searcher = Searcher(cat, lambda _space: index, {"content": enc})
    words = [
        "sunset over mountains",
        "dog on a beach",
        "red car at night",
        "children playing in snow",
        "a bowl of fruit on a table",
        "city skyline",
        "portrait of an old man",
        "forest in autumn",
    ]
    searcher.search_text(words[0], 50)  # warm-up
    e2e_ms = []
    for i in range(min(queries, 60)):
        t = time.perf_counter()
        hits = searcher.search_text(f"{words[i % len(words)]} {i}", 50)
        e2e_ms.append((time.perf_counter() - t) * 1e3)
        assert len(hits) == 50
    return {
        "vectors": n,
        "dim": d,
        "k": 50,
        "rebuild_from_sqlite_s": rebuild,
        "faiss_p50_ms": pct(faiss_ms, 50),
        "faiss_p95_ms": pct(faiss_ms, 95),
        "end_to_end_p50_ms": pct(e2e_ms, 50),
        "end_to_end_p95_ms": pct(e2e_ms, 95),
    }


def bench_spaces(encoders: dict, folder: Path, n: int, bsz: int, tmp: Path) -> dict:
    """Pipeline throughput with the content model alone and with all three encoders, on the same n files."""
    sub = folder.parent / f"{folder.name}-first{n}"
    sub.mkdir(exist_ok=True)
    for p in sorted(folder.iterdir())[:n]:
        if not (sub / p.name).exists():
            os.link(p, sub / p.name)
    out = {}
    for name, encs in (("content", {}), ("all", {k: v for k, v in encoders.items() if k != "content"})):
        s = Settings(data_dir=tmp / f"spaces-{name}", models_dir=tmp / "models", batch_size=bsz)
        svc = StyleSeek(s, content_encoder=encoders["content"], style_encoders=encs)
        r = svc.index_folders([sub])
        assert r.failed == 0, r.errors
        out[name] = {
            "spaces": r.spaces,
            "images": r.indexed,
            "seconds": r.seconds,
            "images_per_s": r.indexed / r.seconds,
        }
        print("spaces", name, out[name], flush=True)
    out["all_vs_content"] = out["all"]["images_per_s"] / out["content"]["images_per_s"]
    return out


def bench_texture_sizes(models: Path, device: str, paths: list[Path], sizes: list[int]) -> list[dict]:
    """Cost per image of the VAE descriptor at several input sizes (the choice is recorded in BENCHMARKS.md)."""
    imgs = [decode(p.read_bytes(), min_side=max(sizes), max_pixels=10**9).image for p in paths]
    out = []
    for size in sizes:
        enc = TextureEncoder(Settings(models_dir=models, device=device, texture_size=size))
        prepared = [enc.prepare(i) for i in imgs]
        enc.encode_prepared(prepared[:2])
        sync(enc)
        t = time.perf_counter()
        enc.encode_prepared(prepared)
        sync(enc)
        dt = time.perf_counter() - t
        out.append({"size": size, "images": len(imgs), "ms_per_image": 1e3 * dt / len(imgs)})
        print("texture", out[-1], flush=True)
    return out


def bench_fusion(encoders: dict, n: int, tmp: Path, queries: int = 30) -> dict:
    """A 5-term query (2 content, 2 style, 1 exclusion): text encoding and search timed separately."""
    rng = np.random.default_rng(n + 1)
    cat = bench_catalog(tmp / f"fusion-{n}" / "db.sqlite3", n)
    indices = {}
    for space in ("content", "style"):
        d = encoders[space].dim
        vecs = clustered(n, d, rng, rng.normal(0, 1, (256, d)))
        idx = VectorIndex(tmp / f"fusion-{n}" / f"{space}.faiss", space, d)
        idx.add(np.arange(1, n + 1), vecs)
        indices[space] = idx
    searcher = Searcher(cat, indices.__getitem__, {s: encoders[s] for s in indices})
    subjects = ["sunset over mountains", "a harbour with boats", "children playing", "a bowl of fruit", "city at night"]
    styles = ["van gogh style", "loose impressionist brushwork", "ukiyo-e woodblock print", "art deco poster"]
    enc_ms, search_ms = [], []
    for i in range(queries + 1):
        terms = [
            Term(subjects[i % 5], "content", 0.8),
            Term(subjects[(i + 1) % 5] + " in fog", "content", 0.4),
            Term(styles[i % 4], "style", 0.9),
            Term(styles[(i + 1) % 4], "style", 0.3),
            Term("people", "content", -0.5),
        ]
        t = time.perf_counter()
        parts = searcher.encode_terms(terms)
        t1 = time.perf_counter()
        hits = searcher.fuse(parts, 50)
        t2 = time.perf_counter()
        assert len(hits) == 50
        if i:  # the first query warms up
            enc_ms.append((t1 - t) * 1e3)
            search_ms.append((t2 - t1) * 1e3)
    return {
        "vectors": n,
        "terms": 5,
        "k": 50,
        "encode_p50_ms": pct(enc_ms, 50),
        "encode_p95_ms": pct(enc_ms, 95),
        "search_p50_ms": pct(search_ms, 50),
        "search_p95_ms": pct(search_ms, 95),
    }


def machine() -> dict:
    import torch

    info = {
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    try:
        info["cpu_model"] = next(
            line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--naive-images", type=int, default=None, help="default: same as --images")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[0], help="decode threads; 0 = the default")
    ap.add_argument("--search-sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "styleseek-bench")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument(
        "--skip", nargs="*", default=[], choices=["model", "pipeline", "naive", "search", "spaces", "texture", "fusion"]
    )
    ap.add_argument("--style-images", type=int, default=24, help="images for the all-encoders indexing run")
    ap.add_argument("--texture-sizes", type=int, nargs="+", default=[128, 192, 256])
    ap.add_argument("--tag", default="", help="suffix for the result file name")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    a.work.mkdir(parents=True, exist_ok=True)
    tmp = scratch("run-", a.work)
    models = a.work / "models-full-random"
    if not (models / "clip-vit-b-16-openai" / "open_clip_model.safetensors").exists():
        write_full_random_models(models)
    enc = ContentEncoder(Settings(models_dir=models, device=a.device))
    enc.load()
    from indexing.vectors import set_search_threads

    res_threads = set_search_threads(0)  # what StyleSeek does at start
    res: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "device": enc.device,
        "faiss_threads": res_threads,
        "batch_size": a.batch_size,
        "model": "ViT-B-16 (open_clip), random init, " + ("fp16" if enc.device == "cuda" else "fp32"),
    }
    print(json.dumps(res["machine"]), flush=True)
    t = time.perf_counter()
    paths = images(a.work / "photos-12mp", a.images)
    folder = a.work / f"photos-12mp-{a.images}"
    folder.mkdir(exist_ok=True)
    for p in paths:  # the pipeline indexes exactly these files
        link = folder / p.name
        if not link.exists():
            os.link(p, link)
    print(f"images ready in {time.perf_counter() - t:.0f}s", flush=True)
    if "model" not in a.skip:
        res["model_only"] = bench_model_only(enc, paths, a.batch_size)
        print("model only", res["model_only"], flush=True)
    if "pipeline" not in a.skip:
        res["pipeline"] = [bench_pipeline(enc, folder, a.batch_size, w, tmp) for w in a.workers]
        print("pipeline", res["pipeline"], flush=True)
    if "naive" not in a.skip:
        res["naive"] = bench_naive(enc, paths[: a.naive_images or a.images])
        print("naive", res["naive"], flush=True)
    if "search" not in a.skip:
        res["search"] = [bench_search(enc, n, tmp) for n in a.search_sizes]
        print("search", res["search"], flush=True)
    if not {"spaces", "texture", "fusion"} <= set(a.skip):
        if not (models / "sd-v1-4-vae" / "diffusion_pytorch_model.safetensors").exists():
            write_full_random_models(models, keys=("style", "texture"))
        s = Settings(models_dir=models, device=a.device)
        encoders = {"content": enc, "style": StyleEncoder(s), "texture": TextureEncoder(s)}
        if "texture" not in a.skip:
            res["texture_sizes"] = bench_texture_sizes(models, a.device, paths[:8], a.texture_sizes)
        if "spaces" not in a.skip:
            res["spaces"] = bench_spaces(encoders, folder, a.style_images, a.batch_size, tmp)
        if "fusion" not in a.skip:
            res["fusion"] = [bench_fusion(encoders, n, tmp) for n in a.search_sizes]
            print("fusion", res["fusion"], flush=True)
    if "model_only" in res and "pipeline" in res:
        best = max(p["images_per_s"] for p in res["pipeline"])
        res["pipeline_vs_model"] = best / res["model_only"]["images_per_s"]
        if "naive" in res:
            res["pipeline_vs_naive"] = best / res["naive"]["images_per_s"]
    a.out.mkdir(parents=True, exist_ok=True)
    name = f"{res['date'][:10]}-{res['device']}-{res['machine']['host']}{'-' + a.tag if a.tag else ''}.json"
    (a.out / name).write_text(json.dumps(res, indent=2))
    print(json.dumps({k: v for k, v in res.items() if k.startswith("pipeline_vs")}))
    print(f"wrote {a.out / name}")


if __name__ == "__main__":
    main()
