"""The three image towers alone on the GPU (issue 13): how fast each full-size random-initialised tower embeds
batches already in GPU memory, as the GPU path feeds them, and what CUDA graphs (the product's,
TorchTower.capture) and channels-last memory (the VAE's convolutions) change, alone and beside Python threads
that want the GIL (as the GPU stage's other threads do). Says whether "all three >= 400 img/s" is bound by
the towers themselves.

    python bench/gpu_towers.py [--batch 64] [--iters 24] [--out results.json]

Each variant is timed after a warm-up, synchronised, the embeddings copied to the host as encode_batch does,
alone and all three in turn (the GPU path's tower thread runs them one after the other).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch  # noqa: E402
from models.backend import Tower  # noqa: E402
from models.tiny import write_full_random_models  # noqa: E402
from settings import Settings  # noqa: E402


def timed(fn, n: int, iters: int) -> float:  # noqa: ANN001
    import torch

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return round(n * iters / (time.perf_counter() - t), 1)


def python_threads(k: int, stop: threading.Event) -> list[threading.Thread]:
    """k threads running Python (wanting the GIL all the time), as the GPU stage's readers and commits do in
    bursts; started."""

    def spin() -> None:
        while not stop.is_set():
            sum(i * i for i in range(500))

    threads = [threading.Thread(target=spin, daemon=True) for _ in range(k)]
    for t in threads:
        t.start()
    return threads


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=24)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import torch

    from services import StyleSeek

    tmp = scratch("gpu-towers-")
    write_full_random_models(tmp / "models", keys=("content", "style", "texture"))
    svc = StyleSeek(Settings(data_dir=tmp / "data", models_dir=tmp / "models", device="cuda"))
    out: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "batch": args.batch,
    }
    bs, iters = args.batch, args.iters
    towers: dict[str, tuple] = {}
    for s, e in svc.encoders.items():
        e.load()
        module = e._tower(Tower.IMAGE).module
        x = torch.randn(bs, 3, e.input_size, e.input_size, device="cuda")
        xh = x.half()

        def plain(m=module, xh=xh):  # noqa: ANN001, ANN202
            with torch.inference_mode():
                return m(xh).float().cpu()

        res = {"input_size": e.input_size, "encode_batch": timed(lambda e=e, x=x: e.encode_batch(x), bs, iters)}
        res["module_fp16"] = timed(plain, bs, iters)
        ref = e.encode_batch(x)
        tower = e._tower(Tower.IMAGE)
        torch.cuda.synchronize()
        before = torch.cuda.memory_reserved()
        e.capture(bs)  # the product's CUDA graph (TorchTower.capture), as the GPU stage takes it
        torch.cuda.synchronize()
        res["graph_memory_mb"] = round((torch.cuda.memory_reserved() - before) / 2**20)  # its pool, what it holds
        graph = tower._graph
        res["cuda_graph"] = timed(lambda e=e, x=x: e.encode_batch(x), bs, iters)
        res["cuda_graph_max_abs_diff"] = float(np.abs(e.encode_batch(x) - ref).max())
        res["cuda_graph_padded_half_batch_max_abs_diff"] = float(
            np.abs(e.encode_batch(x[: bs // 2 + 1]) - ref[: bs // 2 + 1]).max()
        )
        if s == "style":  # which attention transformers runs (sdpa: fused kernels)
            res["attn_implementation"] = getattr(module.vision.config, "_attn_implementation", None)
        if s == "texture":  # cuDNN's fastest algorithms for these fixed shapes, timed once at the first call
            torch.backends.cudnn.benchmark = True
            res["cudnn_benchmark"] = timed(plain, bs, iters)
            torch.backends.cudnn.benchmark = False
            module.to(memory_format=torch.channels_last)
            xc = xh.contiguous(memory_format=torch.channels_last)
            res["channels_last"] = timed(lambda m=module, xc=xc: m(xc).float().cpu(), bs, iters)
            module.to(memory_format=torch.contiguous_format)
        towers[s] = (e, x, tower, graph)
        out[s] = res
        print(s, res, flush=True)

    out["gpu_memory_reserved_mb"] = round(torch.cuda.memory_reserved() / 2**20)  # towers, graphs, test batches

    def all_three() -> None:
        for e, x, _, _ in towers.values():
            e.encode_batch(x)

    # the GPU stage's switch interval, and Python threads wanting the GIL beside the tower thread
    sys.setswitchinterval(0.0002)
    for kind in ("plain", "graph"):
        for _, _, tower, graph in towers.values():
            tower._graph = graph if kind == "graph" else None
        for k in (0, 1, 4):
            stop = threading.Event()
            threads = python_threads(k, stop)
            key = f"all_three_in_turn_{kind}" + (f"_beside_{k}_python_threads" if k else "")
            out[key] = timed(all_three, bs, iters)
            stop.set()
            for t in threads:
                t.join()
            print(key, out[key], flush=True)
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
