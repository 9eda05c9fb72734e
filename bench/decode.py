"""Where GPU indexing loses its time: JPEG decoding, measured three ways on the same 12-megapixel files.

- the pipeline's CPU path (`indexing.imageio.decode`: EXIF, draft-mode decode at 1/8 scale, RGB) in a thread
  pool and in a process pool of the same size, for 1..N workers;
- nvJPEG through `torchvision.io.decode_jpeg(device="cuda")`, batched, full resolution, then resized on the
  GPU to the model's 224 px (what a GPU path would have to do), when CUDA is present.

    python bench/decode.py [--images 256] [--workers 1 4 8 16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import images  # noqa: E402
from indexing.imageio import decode  # noqa: E402


def cpu_decode(path: str) -> tuple[int, int]:
    with open(path, "rb") as f:
        data = f.read()
    return decode(data, min_side=224, min_long=400, max_pixels=200_000_000).image.size


def rate(pool_cls: type, workers: int, paths: list[str]) -> float:
    with pool_cls(workers) as pool:
        list(pool.map(cpu_decode, paths[: workers * 2]))  # start-up and warm caches
        t = time.perf_counter()
        list(pool.map(cpu_decode, paths, chunksize=4 if pool_cls is ProcessPoolExecutor else 1))
        return len(paths) / (time.perf_counter() - t)


def gpu_rate(paths: list[str], batch: int = 32) -> dict | None:
    import torch

    if not torch.cuda.is_available():
        return None
    import torch.nn.functional as F
    from torchvision.io import decode_jpeg

    datas = [torch.frombuffer(bytearray(Path(p).read_bytes()), dtype=torch.uint8) for p in paths]
    decode_jpeg(datas[:batch], device="cuda")  # initialise nvJPEG
    torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(0, len(datas), batch):
        imgs = decode_jpeg(datas[i : i + batch], device="cuda")
        small = [F.interpolate(im[None].float(), size=(224, 224), mode="bilinear", antialias=True) for im in imgs]
        torch.cat(small)
    torch.cuda.synchronize()
    return {
        "img_s": round(len(datas) / (time.perf_counter() - t), 1),
        "batch": batch,
        "device": torch.cuda.get_device_name(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--work", type=Path, default=Path("/tmp/styleseek-bench/photos"))
    args = ap.parse_args()
    paths = [str(p) for p in images(args.work, args.images)]
    result: dict = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs, {platform.processor()}",
        "images": len(paths),
        "threads": {},
        "processes": {},
    }
    for w in args.workers:
        result["threads"][w] = round(rate(ThreadPoolExecutor, w, paths), 1)
        result["processes"][w] = round(rate(ProcessPoolExecutor, w, paths), 1)
        print(w, result["threads"][w], result["processes"][w], flush=True)
    try:
        result["nvjpeg"] = gpu_rate(paths)
    except Exception as e:  # noqa: BLE001 - a CPU-only torch, or an nvJPEG failure: say so in the result
        result["nvjpeg"] = f"unavailable: {type(e).__name__}: {e}"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
