"""The GPU path's batched resizes (issue 13): from a decoded batch (upright RGB uint8 tensors on the GPU), each
encoder's model input and the 400 px thumbnail, in batched tensor ops per picture size, matching the CPU path's
preprocessing (open_clip's eval transform; the thumbnail's antialiased bilinear). Nothing here loads CUDA at
import."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any


def _groups(images: Sequence[Any]) -> dict[tuple[int, int], list[int]]:
    """Indices of the images by (height, width): same-sized pictures (one camera's) resize as one batch."""
    out: dict[tuple[int, int], list[int]] = {}
    for i, im in enumerate(images):
        out.setdefault((int(im.shape[0]), int(im.shape[1])), []).append(i)
    return out


def _reduced(images: Sequence[Any], idx: list[int], need: int) -> Any:
    """The same-sized images idx as one (n, 3, h, w) float batch, first averaged down by a whole factor while
    the short side stays at least twice `need` (box filtering, as a JPEG's DCT scaling does on the CPU): the
    antialiased resizes after it then work on a few hundred pixels, not 12 million."""
    import torch
    import torch.nn.functional as F

    h, w = int(images[idx[0]].shape[0]), int(images[idx[0]].shape[1])
    k = min(h, w) // (2 * need)
    parts = []
    for c in range(0, len(idx), 16):  # 16 at a time: a batch of 12-MP photos never stands in GPU memory as floats
        part = torch.stack([images[i] for i in idx[c : c + 16]]).permute(0, 3, 1, 2)
        part = part.half() if part.is_cuda else part.float()
        parts.append(F.avg_pool2d(part, k, ceil_mode=True) if k > 1 else part)
    return torch.cat(parts) if len(parts) > 1 else parts[0]


@functools.cache
def _norm(mean: Sequence[float], std: Sequence[float], dev: Any) -> tuple[Any, Any]:
    """An encoder's (mean, std) as (1, 3, 1, 1) tensors on the device, made once: made a batch, each was a copy
    from pageable host memory, which waits for the stream's work so far (the decode thread stalled on it)."""
    import torch

    return torch.tensor(mean, device=dev).view(1, 3, 1, 1), torch.tensor(std, device=dev).view(1, 3, 1, 1)


def _rows(idx: list[int], dev: Any) -> Any:
    """Where a size group's pictures go in the batch: a slice where they follow each other (the usual: one
    camera's photos), so that no index list is copied to the device (a copy that waits, as in _norm)."""
    if idx == list(range(idx[0], idx[0] + len(idx))):
        return slice(idx[0], idx[0] + len(idx))
    import torch

    return torch.tensor(idx).pin_memory().to(dev, non_blocking=True) if dev.type == "cuda" else idx


def prepare_batch(
    images: Sequence[Any],
    inputs: dict[str, tuple[int, Sequence[float], Sequence[float]]],
    thumb_side: int = 0,
    host_thumbs: bool = True,
) -> tuple[dict[str, Any], list[Any]]:
    """Everything the index makes of a decoded batch, in batched tensor ops per picture size: each encoder's
    input (name -> (size, mean, std): open_clip's eval transform, the shortest side resized to `size` with
    antialiased bicubic, the long side by torchvision's rule int(size * long / short), a centre crop, [0, 1],
    normalised; (N, 3, size, size) float32 on the images' device), and the thumbnails (long side at most
    `thumb_side`, antialiased bilinear; uint8 (h, w, 3) tensors in the host's pinned memory, for JPEG encoding
    in the CPU threads; with `host_thumbs` False, where they were made, for the GPU's JPEG encoder). Nothing here
    waits for the GPU: the thumbnails' copy is queued on the current stream, like the rest, and is whole once
    that stream's work is (an event recorded after this call)."""
    import torch
    import torch.nn.functional as F

    dev = images[0].device
    out = {
        n: torch.empty((len(images), 3, sz, sz), dtype=torch.float32, device=dev) for n, (sz, _, _) in inputs.items()
    }
    thumbs: list[Any] = [None] * len(images)
    need = max([sz for sz, _, _ in inputs.values()] + [thumb_side * 3 // 4])
    for (h, w), idx in _groups(images).items():
        batch = _reduced(images, idx, need)
        rh, rw = batch.shape[2], batch.shape[3]
        for name, (size, mean, std) in inputs.items():
            nh, nw = (int(size * h / w), size) if w <= h else (size, int(size * w / h))
            x = batch
            if (nh, nw) != (rh, rw):
                x = F.interpolate(batch, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False)
            top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
            x = x[:, :, top : top + size, left : left + size].float().clamp_(0, 255) / 255.0
            m, s = _norm(tuple(mean), tuple(std), dev)
            out[name][_rows(idx, dev)] = (x - m) / s
        if thumb_side:
            scale = min(1.0, thumb_side / max(h, w))
            th, tw = max(1, round(h * scale)), max(1, round(w * scale))
            x = batch
            if (th, tw) != (rh, rw):
                x = F.interpolate(batch.float(), size=(th, tw), mode="bilinear", antialias=True, align_corners=False)
            small = x.float().round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
            if host_thumbs:
                small = small.to("cpu", non_blocking=True)  # pinned: the copy is queued, not waited for
            for j, i in enumerate(idx):
                thumbs[i] = small[j]
    return out, thumbs


def model_inputs(images: Sequence[Any], size: int, mean: Sequence[float], std: Sequence[float]) -> Any:
    """One encoder's inputs of a decoded batch (see prepare_batch)."""
    return prepare_batch(images, {"x": (size, mean, std)})[0]["x"]


def thumbnails(images: Sequence[Any], long_side: int) -> list[Any]:
    """The thumbnails of a decoded batch (see prepare_batch), copied whole to the host."""
    small = prepare_batch(images, {}, long_side)[1]
    if images and images[0].is_cuda:
        import torch

        torch.cuda.current_stream().synchronize()
    return small
