from __future__ import annotations

import torch


def pick_device(wanted: str) -> torch.device:
    if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("STYLESEEK_DEVICE=cuda but torch sees no CUDA device")
        # the models run on the GPU: torch's CPU thread pool would only spin against FAISS's (BENCHMARKS.md)
        torch.set_num_threads(min(2, torch.get_num_threads()))
        return torch.device("cuda")
    return torch.device("cpu")
