"""GPU decoding for indexing (issue 13, first part): which JPEGs the GPU's decoder may take, read from their
header bytes alone; nvImageCodec's batched decode; and the model inputs and thumbnails made from a decoded batch
by batched tensor ops on the GPU. Nothing here loads CUDA or nvImageCodec at import: the CPU path stays the
default, and this module is imported only where a GPU is used.

What goes to the CPU path instead, and why (the CPU path is what the GPU path must match):
- not a JPEG (PNG, HEIC, RAW, ...): the GPU decoder here is for JPEG;
- an embedded ICC profile: the CPU path converts it to sRGB (phones' Display P3), which the GPU path does not
  do yet; likewise 4-component (CMYK/YCCK) JPEGs, which need Adobe's inversion and a profile;
- 12-bit or arithmetic-coded JPEGs, which the hardware decoder does not take;
- more than `max_pixels`: a 100-MP scan is decoded on the CPU with draft/reduce, so GPU memory stays bounded.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from indexing.thumbs import ThumbCache
from indexing.work import Outcome

GPU_MAX_PIXELS = 100_000_000


@dataclass(frozen=True)
class JpegHeader:
    width: int
    height: int
    components: int
    precision: int
    progressive: bool
    arithmetic: bool
    icc: bool  # an APP2 ICC_PROFILE segment before the frame


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_header(data: bytes) -> JpegHeader | None:
    """The frame header of a JPEG, read by walking its markers up to the first SOFn; None if it is no JPEG or
    its header is cut short."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    i, icc = 2, False
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker == 0xE2 and data[i + 4 : i + 16] == b"ICC_PROFILE\x00":
            icc = True
        if marker in _SOF:
            if i + 10 > len(data):
                return None
            precision, height, width, components = struct.unpack(">BHHB", data[i + 4 : i + 10])
            return JpegHeader(
                width, height, components, precision, marker in (0xC2, 0xC6, 0xCA, 0xCE), marker >= 0xC9, icc
            )
        if marker == 0xDA:  # scan data before any frame header: broken
            return None
        i += 2 + length
    return None


def cpu_reason(data: bytes, max_pixels: int = GPU_MAX_PIXELS) -> str | None:
    """Why this file goes through the CPU path (None: the GPU decoder may take it)."""
    h = jpeg_header(data)
    if h is None:
        return "not a JPEG"
    if h.components not in (1, 3):
        return f"{h.components}-component JPEG (CMYK/YCCK)"
    if h.precision != 8:
        return f"{h.precision}-bit JPEG"
    if h.arithmetic:
        return "arithmetic-coded JPEG"
    if h.icc:
        return "ICC profile (converted to sRGB on the CPU)"
    if h.width * h.height > max_pixels:
        return f"{h.width * h.height / 1e6:.0f} MP: decoded reduced on the CPU"
    return None


def gpu_decoder(settings: Any, device: str) -> GpuDecoder | None:
    """The GPU decoder when indexing runs on CUDA, nvImageCodec is installed and STYLESEEK_GPU_DECODE is not
    off; None otherwise (the CPU path)."""
    if device != "cuda" or getattr(settings, "gpu_decode", "auto") == "off":
        return None
    try:
        return GpuDecoder(device)
    except ImportError:
        return None


class GpuDecoder:
    """nvImageCodec's batched decoder (the hardware JPEG engine where the GPU has one, its CUDA decoder
    otherwise), EXIF orientation applied as the CPU path applies it to JPEGs. decode() gives, per file, an
    upright RGB uint8 tensor (H, W, 3) on the GPU, or None where the decoder refused the file (it then goes
    through the CPU path)."""

    def __init__(self, device: str = "cuda") -> None:
        import torch
        from nvidia import nvimgcodec

        self.torch = torch
        self.device = torch.device(device)
        self._nv = nvimgcodec
        self._decoder = nvimgcodec.Decoder()
        self._params = nvimgcodec.DecodeParams(apply_exif_orientation=True)

    def decode(self, blobs: Sequence[bytes]) -> list[Any]:
        if not blobs:
            return []
        images = self._decoder.decode(list(blobs), params=self._params)
        return [None if im is None else self.torch.as_tensor(im, device=self.device) for im in images]


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

    batch = torch.stack([images[i] for i in idx]).permute(0, 3, 1, 2)
    batch = batch.half() if batch.is_cuda else batch.float()
    k = min(batch.shape[2], batch.shape[3]) // (2 * need)
    return F.avg_pool2d(batch, k, ceil_mode=True) if k > 1 else batch


def prepare_batch(
    images: Sequence[Any], inputs: dict[str, tuple[int, Sequence[float], Sequence[float]]], thumb_side: int = 0
) -> tuple[dict[str, Any], list[Any]]:
    """Everything the index makes of a decoded batch, in batched tensor ops per picture size: each encoder's
    input (name -> (size, mean, std): open_clip's eval transform, the shortest side resized to `size` with
    antialiased bicubic, the long side by torchvision's rule int(size * long / short), a centre crop, [0, 1],
    normalised; (N, 3, size, size) float32 on the images' device), and the thumbnails (long side at most
    `thumb_side`, antialiased bilinear; uint8 (h, w, 3) tensors on the CPU, ready for WebP encoding in threads)."""
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
            m = torch.tensor(mean, device=dev).view(1, 3, 1, 1)
            s = torch.tensor(std, device=dev).view(1, 3, 1, 1)
            out[name][idx] = (x - m) / s
        if thumb_side:
            scale = min(1.0, thumb_side / max(h, w))
            th, tw = max(1, round(h * scale)), max(1, round(w * scale))
            x = batch
            if (th, tw) != (rh, rw):
                x = F.interpolate(batch.float(), size=(th, tw), mode="bilinear", antialias=True, align_corners=False)
            small = x.float().round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu()
            for j, i in enumerate(idx):
                thumbs[i] = small[j]
    return out, thumbs


def model_inputs(images: Sequence[Any], size: int, mean: Sequence[float], std: Sequence[float]) -> Any:
    """One encoder's inputs of a decoded batch (see prepare_batch)."""
    return prepare_batch(images, {"x": (size, mean, std)})[0]["x"]


def thumbnails(images: Sequence[Any], long_side: int) -> list[Any]:
    """The thumbnails of a decoded batch (see prepare_batch)."""
    return prepare_batch(images, {}, long_side)[1]


def gpu_outcomes(
    decoder: GpuDecoder,
    pending: list[Outcome],
    encoders: dict[str, Any],
    thumbs: ThumbCache,
    settings: Any,
    pool: ThreadPoolExecutor,
    cpu: Callable[[Outcome], Outcome],
) -> list[Outcome]:
    """The Indexer's GPU step: JPEGs read, hashed and probed on the CPU threads, decoded here in one batch,
    every encoder's input and the thumbnails made in batched tensor ops; a file the decoder refuses goes
    through the CPU path (`cpu`). The thumbnails are encoded as WebP in the pool's threads."""
    from PIL import Image

    from indexing.imageio import thumbnail_bytes

    images = decoder.decode([o.data for o in pending])
    out = [cpu(o) for o, im in zip(pending, images, strict=True) if im is None]
    done = [(o, im) for o, im in zip(pending, images, strict=True) if im is not None]
    if not done:
        return out
    spaces = sorted({s for o, _ in done for s in o.job.spaces})
    wanted = {s: (encoders[s].input_size, *encoders[s].input_norm()) for s in spaces}
    inputs, small = prepare_batch([im for _, im in done], wanted, settings.thumbnail_size)
    arrays = {s: t.cpu().numpy() for s, t in inputs.items()}

    def thumb(i: int) -> None:
        o = done[i][0]
        if o.job.redo or not thumbs.read(o.hash):
            thumbs.write(o.hash, thumbnail_bytes(Image.fromarray(small[i].numpy()), settings.thumbnail_size))

    list(pool.map(thumb, range(len(done))))
    for i, (o, _) in enumerate(done):
        kind = "fill" if o.job.fill_id is not None else "ready"
        prepared = {s: arrays[s][i] for s in o.job.spaces}
        out.append(Outcome(o.job, kind, hash=o.hash, prepared=prepared, row=o.row if kind == "ready" else {}))
    return out
