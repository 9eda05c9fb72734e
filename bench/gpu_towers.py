"""The three image towers alone on the GPU (issue 13): how fast each full-size random-initialised tower embeds
batches already in GPU memory, as the GPU path feeds them, and what CUDA graphs and channels-last memory
(the VAE's convolutions) change. Says whether "all three >= 400 img/s" is bound by the towers themselves.

    python bench/gpu_towers.py [--batch 64] [--iters 24] [--out results.json]

Each variant is timed after a warm-up, synchronised, the embeddings copied to the host as encode_batch does,
alone and all three in turn (the GPU path's tower thread runs them one after the other).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

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


def graphed(module, x):  # noqa: ANN001, ANN201
    """The module captured once as a CUDA graph on a static input: a call copies the batch in and replays."""
    import torch

    static = x.clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s), torch.inference_mode():
        for _ in range(3):
            module(static)
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.inference_mode():
        out = module(static)

    def run(batch):  # noqa: ANN001, ANN202
        static.copy_(batch)
        graph.replay()
        return out

    return run


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
    fns: dict[str, dict] = {}
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
        g = graphed(module, xh)
        ref = plain()
        got = g(xh).float().cpu()
        res["cuda_graph"] = timed(lambda g=g, xh=xh: g(xh).float().cpu(), bs, iters)
        res["cuda_graph_max_abs_diff"] = float((got - ref).abs().max())
        if s == "texture":
            module.to(memory_format=torch.channels_last)
            xc = xh.contiguous(memory_format=torch.channels_last)
            res["channels_last"] = timed(lambda m=module, xc=xc: m(xc).float().cpu(), bs, iters)
            module.to(memory_format=torch.contiguous_format)
        fns[s] = {"plain": plain, "graph": lambda g=g, xh=xh: g(xh).float().cpu()}
        out[s] = res
        print(s, res, flush=True)
    for kind in ("plain", "graph"):
        out[f"all_three_in_turn_{kind}"] = timed(lambda kind=kind: [f[kind]() for f in fns.values()], bs, iters)
        print("all three", kind, out[f"all_three_in_turn_{kind}"], flush=True)
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
