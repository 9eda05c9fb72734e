"""GPU decoding against the CPU pipeline, side by side in one run on the GPU machine (issue 13, first part).

On the same generated 12-MP JPEGs (bench/run.py's make_photo): nvImageCodec's batched decode alone; that decode
plus every resize the index needs as batched GPU tensor ops (the three encoders' inputs and the 400 px
thumbnail, indexing/gpu.py); and those fed to the full-size random-initialised encoders on the GPU without a
round trip to the CPU (content alone, and all three) -- against today's Indexer on the same files (content
alone, and all three). Then the parity the issue asks for: per image, the cosine between each encoder's
embedding of the GPU-made input and of the CPU path's input (Pillow draft decode and open_clip's transform),
and whether the top 10 neighbours of each picture agree.

    python bench/gpu_decode.py [--images 512] [--batch 64] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import make_photo  # noqa: E402
from indexing.gpu import GpuDecoder, model_inputs, prepare_batch  # noqa: E402
from models.backend import Tower  # noqa: E402
from models.specs import OPENAI_MEAN, OPENAI_STD  # noqa: E402
from models.tiny import write_full_random_models  # noqa: E402
from settings import Settings  # noqa: E402

NORMS = {"content": (OPENAI_MEAN, OPENAI_STD), "style": (OPENAI_MEAN, OPENAI_STD), "texture": ((0.5,) * 3, (0.5,) * 3)}


def rate(n: int, fn) -> float:  # noqa: ANN001
    import torch

    torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import torch

    from indexing.imageio import decode
    from services import StyleSeek

    tmp = Path(tempfile.mkdtemp(prefix="gpu-decode-"))
    photos = tmp / "photos"
    photos.mkdir()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        paths = [
            Path(p) for p in pool.map(make_photo, [(i, str(photos / f"p{i:04d}.jpg")) for i in range(args.images)])
        ]
    blobs = [p.read_bytes() for p in paths]
    n, bs = len(blobs), args.batch
    out: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(),
        "cpus": os.cpu_count(),
        "images": n,
        "mean_mb": round(float(np.mean([len(b) for b in blobs])) / 1e6, 2),
        "batch": bs,
    }
    write_full_random_models(tmp / "models", keys=("content", "style", "texture"))
    settings = Settings(data_dir=tmp / "data", models_dir=tmp / "models", device="cuda", batch_size=bs)
    svc = StyleSeek(settings)
    encs = svc.encoders
    for e in encs.values():
        e.load()
    modules = {s: e._tower(Tower.IMAGE).module for s, e in encs.items()}  # the fp16 PyTorch towers on the GPU
    sizes = {s: e.input_size for s, e in encs.items()}
    dec = GpuDecoder()
    dec.decode(blobs[:bs])  # warm-up

    def decode_only() -> None:
        for i in range(0, n, bs):
            dec.decode(blobs[i : i + bs])

    def decode_and_resize() -> None:
        for i in range(0, n, bs):
            prepare_batch(dec.decode(blobs[i : i + bs]), {s: (sizes[s], *NORMS[s]) for s in encs}, 400)

    def end_to_end(spaces: tuple[str, ...]):  # noqa: ANN202
        def run() -> None:
            with torch.inference_mode():
                for i in range(0, n, bs):
                    ims = dec.decode(blobs[i : i + bs])
                    inputs, _ = prepare_batch(ims, {s: (sizes[s], *NORMS[s]) for s in spaces}, 400)
                    for s in spaces:
                        modules[s](inputs[s].half()).float().cpu()

        return run

    end_to_end(("content", "style", "texture"))()  # warm-up of the towers
    out["nvimgcodec_decode_img_s"] = rate(n, decode_only)
    out["decode_resizes_thumbs_img_s"] = rate(n, decode_and_resize)
    out["gpu_content_img_s"] = rate(n, end_to_end(("content",)))
    out["gpu_all_three_img_s"] = rate(n, end_to_end(("content", "style", "texture")))
    print(json.dumps(out, indent=2), flush=True)

    # the Indexer on the same files, same run (fresh data folders): the CPU path (gpu_decode off, today's) and
    # the GPU path (JPEGs read and probed on 16 threads, decoded and resized in batches on the GPU)
    for path in ("cpu", "gpu"):
        for name, keys in (("content", {}), ("all_three", None)):
            mode = "off" if path == "cpu" else "auto"
            s2 = Settings(data_dir=tmp / f"data-{path}-{name}", models_dir=tmp / "models", device="cuda",
                          batch_size=bs, decode_workers=os.cpu_count(), gpu_decode=mode)  # fmt: skip
            pipe = StyleSeek(s2, style_encoders=keys) if keys is not None else StyleSeek(s2)
            for e in pipe.encoders.values():  # the towers loaded and warmed before the clock starts
                e.warm(text=False, image=True)
            t = time.perf_counter()
            pipe.index_folders([photos])
            out[f"{path}_pipeline_{name}_img_s"] = n / (time.perf_counter() - t)
            print(path, name, out[f"{path}_pipeline_{name}_img_s"], flush=True)

    # parity: per image and encoder, GPU-made input vs the CPU path's input, through the same tower
    m = min(n, 128)
    cpu_images = [decode(p, min_side=max(sizes.values()), max_pixels=10**9).image for p in paths[:m]]
    gpu_images = [t for i in range(0, m, bs) for t in dec.decode(blobs[i : min(m, i + bs)])]
    parity = {}
    for s, e in encs.items():
        with torch.inference_mode():
            g = modules[s](model_inputs(gpu_images, sizes[s], *NORMS[s]).half()).float().cpu().numpy()
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        c = e.encode_images(cpu_images)
        cos = (g * c).sum(axis=1)
        top_g = np.argsort(-(g @ g.T), axis=1)[:, 1:11]
        top_c = np.argsort(-(c @ c.T), axis=1)[:, 1:11]
        same = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_g, top_c, strict=True)]))
        parity[s] = {"min_cos": float(cos.min()), "mean_cos": float(cos.mean()), "top10_overlap": same}
    out["parity"] = parity
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
