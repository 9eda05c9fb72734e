"""Issue 10's figures, all in one run so they compare side by side: PyTorch (today's engine on the CPU) against
OpenVINO fp32 and int8, with the full-size random-initialised models (real speed, meaningless weights) on
generated 12-megapixel JPEGs.

- model alone (batched, inputs prepared beforehand) per image tower and engine; OpenVINO against PyTorch
  (cosine per image, top-10 agreement); int8 recall@10 against fp32 rankings
- the pipeline, content only and all three encoders, per engine, and its share of the engine's own speed
- time until a folder is searchable by content: today (PyTorch, one pass) against OpenVINO with content first
- a 5-term query's text encoding; a fresh `styleseek search` process at 10,000 images

    python bench/backends.py [--images 96] [--all-images 24] [--calibration 64] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import images  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from indexing.imageio import decode  # noqa: E402
from indexing.progress import Progress  # noqa: E402
from models.content import ContentEncoder  # noqa: E402
from models.style import StyleEncoder  # noqa: E402
from models.texture import TextureEncoder  # noqa: E402
from services import StyleSeek  # noqa: E402
from settings import Settings  # noqa: E402

ENCODERS = {"content": ContentEncoder, "style": StyleEncoder, "texture": TextureEncoder}
BATCH = {"content": 16, "style": 8, "texture": 16}
ENGINES = {
    "torch fp32": ("torch", "fp32"),
    "openvino fp32": ("openvino", "fp32"),
    "openvino int8": ("openvino", "int8"),
}


def settings(models: Path, data: Path, backend: str, precision: str, **kw: object) -> Settings:
    return Settings(models_dir=models, data_dir=data, device="cpu", backend=backend, precision=precision, **kw)


def prepared(enc, paths: list[Path]) -> list[np.ndarray]:  # noqa: ANN001
    def one(p: Path) -> np.ndarray:
        return enc.prepare(decode(p.read_bytes(), min_side=enc.input_size, max_pixels=10**9).image)

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        return list(pool.map(one, paths))


def model_only(enc, xs: list[np.ndarray], bsz: int, reps: int = 2) -> tuple[float, np.ndarray]:  # noqa: ANN001
    enc.encode_prepared(xs[:bsz])  # warm-up (and for OpenVINO: load or convert the IR, untimed)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        out = np.concatenate([enc.encode_prepared(xs[i : i + bsz]) for i in range(0, len(xs), bsz)])
        best = min(best, time.perf_counter() - t)
    return len(xs) / best, out


def recall_at_10(ref: np.ndarray, got: np.ndarray, queries: np.ndarray) -> float:
    r = []
    for q in queries:
        a, b = set(np.argsort(-(ref @ q))[:10]), set(np.argsort(-(got @ q))[:10])
        r.append(len(a & b) / 10)
    return float(np.mean(r))


def bench_models(models: Path, tmp: Path, paths: list[Path], calib: int, out: dict) -> None:
    for space, cls in ENCODERS.items():
        res: dict = {}
        vectors: dict[str, np.ndarray] = {}
        for name, (backend, precision) in ENGINES.items():
            enc = cls(settings(models, tmp / "d", backend, precision))
            xs = prepared(enc, paths)
            if enc.needs_calibration:
                t = time.perf_counter()
                enc.calibrate(xs[:calib])
                res["int8_calibration_s"] = round(time.perf_counter() - t, 1)
            rate, vectors[name] = model_only(enc, xs, BATCH[space])
            res[name] = round(rate, 3)
            print(f"model only {space:8s} {name:14s} {rate:7.2f} img/s", flush=True)
        ref = vectors["torch fp32"]
        for name in ("openvino fp32", "openvino int8"):
            res[f"{name} min cosine"] = round(float((ref * vectors[name]).sum(1).min()), 5)
        queries = ref[:: max(1, len(ref) // 20)]
        res["openvino fp32 recall@10"] = recall_at_10(ref, vectors["openvino fp32"], queries)
        res["openvino int8 recall@10"] = recall_at_10(vectors["openvino fp32"], vectors["openvino int8"], queries)
        out.setdefault("model_only", {})[space] = res


def run_pipeline(models: Path, data: Path, folder: Path, backend: str, precision: str, spaces: str, **kw: object):  # noqa: ANN201
    s = settings(models, data, backend, precision, style_search=spaces == "all", texture_size=128, **kw)
    svc = StyleSeek(s)
    for enc in svc.encoders.values():  # load and convert outside the timing: a first run does it once
        enc.warm(text=False, image=not enc.needs_calibration)
    progress = Progress()
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    progress.listen(lambda snap: marks.setdefault("content_ready", time.perf_counter() - t0) if snap.phase else None)
    r = svc.index_folders([folder], progress)
    assert r.failed == 0, r.errors
    return r, marks.get("content_ready", r.seconds)


def bench_pipelines(models: Path, tmp: Path, folder: Path, folder_all: Path, out: dict, calib: int) -> None:
    res: dict = {}
    for spaces, f in (("content", folder), ("all", folder_all)):
        for name, (backend, precision) in ENGINES.items():
            data = tmp / f"pipe-{spaces}-{backend}-{precision}"
            r, ready = run_pipeline(models, data, f, backend, precision, spaces, calibration_images=calib,
                                    content_first="off" if backend == "torch" else "auto")  # fmt: skip
            rate = r.indexed / r.seconds
            res[f"{spaces} / {name}"] = {"images": r.indexed, "seconds": round(r.seconds, 1),
                                        "images_per_s": round(rate, 3), "content_ready_s": round(ready, 1)}  # fmt: skip
            print(f"pipeline {spaces:7s} {name:14s} {rate:6.3f} img/s, content searchable after {ready:.1f} s",
                  flush=True)  # fmt: skip
            shutil.rmtree(data, ignore_errors=True)
    out["pipeline"] = res


def bench_text(models: Path, tmp: Path, out: dict) -> None:
    """A 5-term query as the searcher encodes it: 3 content terms in one batch, 2 style terms in another."""
    content = ["sunset over the mountains", "a dog on a beach", "people at a market"]
    style = ["van gogh style, swirling brushwork", "impressionist painting"]
    res = {}
    for backend in ("torch", "openvino"):
        c = ContentEncoder(settings(models, tmp / "d", backend, "fp32"))
        st = StyleEncoder(settings(models, tmp / "d", backend, "fp32"))
        c.encode_text(content)
        st.encode_text(style)
        times = []
        for _ in range(15):
            t = time.perf_counter()
            c.encode_text(content)
            st.encode_text(style)
            times.append(time.perf_counter() - t)
        res[backend] = round(statistics.median(times) * 1000, 1)
        print(f"5-term text encoding, {backend}: {res[backend]} ms (median of 15)", flush=True)
    out["text_5_terms_ms"] = res


def fake_collection(data: Path, models: Path, n: int) -> None:
    """n indexed rows with content vectors (the real fingerprint), no files behind them: enough to search."""
    from indexing.catalog import Catalog

    enc = ContentEncoder(settings(models, data, "openvino", "fp32"))
    cat = Catalog(data / "styleseek.sqlite3")
    cat.check_space("content", enc.dim, enc.fingerprint)
    rng = np.random.default_rng(0)
    v = rng.normal(size=(n, enc.dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    folder = cat.add_folder("/photos")
    with cat.transaction() as t:
        for i in range(n):
            iid = Catalog.insert_image(t, {"folder_id": folder, "path": f"/photos/{i:06d}.jpg", "size": 1,
                                           "mtime": 0.0, "hash": f"{i:032x}", "status": "indexed"})  # fmt: skip
            Catalog.add_vector(t, iid, "content", v[i])


def cli_search(data: Path, models: Path, backend: str, reps: int = 5) -> float:
    env = {**os.environ, "STYLESEEK_DATA_DIR": str(data), "STYLESEEK_MODELS_DIR": str(models),
           "STYLESEEK_DEVICE": "cpu", "STYLESEEK_BACKEND": backend, "STYLESEEK_STYLE_SEARCH": "false"}  # fmt: skip
    cmd = [sys.executable, "-m", "cli", "search", "red", "--json", "-k", "20"]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)  # first: IR cache, FAISS file
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_cli(models: Path, tmp: Path, out: dict, n: int = 10_000) -> None:
    data = tmp / "cli"
    fake_collection(data, models, n)
    res = {}
    for backend in ("torch", "openvino"):
        res[backend] = round(cli_search(data, models, backend), 2)
        print(f"fresh `styleseek search red --json` at {n:,} images, {backend}: {res[backend]} s", flush=True)
    out["cli_search_s"] = res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=96, help="12-MP JPEGs for the content-only runs")
    ap.add_argument("--all-images", type=int, default=24, help="for the runs with all three encoders")
    ap.add_argument("--model-images", type=int, default=32, help="prepared inputs for the model-only runs")
    ap.add_argument("--calibration", type=int, default=64)
    ap.add_argument("--only", default="models,pipeline,text,cli")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    tmp = scratch("ss-backends-")
    cache = Path(os.environ.get("STYLESEEK_BENCH_CACHE", "/tmp/styleseek-bench"))
    models = cache / "models-full"
    if not (models / "clip-vit-large-patch14").exists():
        from models.tiny import write_full_random_models

        write_full_random_models(models)
    photos = images(cache / "photos", max(a.images, a.calibration, a.model_images))
    folder, folder_all = tmp / "photos", tmp / "photos-all"
    for f, n in ((folder, a.images), (folder_all, a.all_images)):
        f.mkdir()
        for p in photos[:n]:
            os.symlink(p, f / p.name)
    out: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "images": a.images,
        "all_images": a.all_images,
        "calibration_images": a.calibration,
    }
    todo = a.only.split(",")
    if "models" in todo:
        bench_models(models, tmp, photos[: a.model_images], a.calibration, out)
    if "pipeline" in todo:
        bench_pipelines(models, tmp, folder, folder_all, out, a.calibration)
    if "text" in todo:
        bench_text(models, tmp, out)
    if "cli" in todo:
        bench_cli(models, tmp, out)
    print(json.dumps(out, indent=2))
    if a.out:
        a.out.write_text(json.dumps(out, indent=2) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
