"""Texture/style descriptor from Stable Diffusion v1.4's VAE encoder (image to image only).

For each down block of the encoder, the channel-wise mean and standard deviation of its feature maps: the
statistics AdaIN and training-free style transfer compare. Each depth's (mean, std) vector is scaled to unit
length so that every depth counts the same (deep layers have much larger activations), then the depths are
concatenated and scaled to unit length overall: inner product = cosine, as in the other spaces.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models.base import Encoder
from models.specs import TEXTURE


class TextureEncoder(Encoder):
    spec = TEXTURE
    has_text = False
    quantize_as = None  # a convolutional network: NNCF's default preset

    def _read_identity(self, folder: Path) -> tuple[int, int]:
        cfg = json.loads((folder / self.spec.config_file).read_text())
        return 2 * sum(int(c) for c in cfg["block_out_channels"]), int(self.settings.texture_size)

    def _fingerprint_suffix(self) -> str:
        return f"@{self.settings.texture_size}"

    def _load_torch(self, folder: Path, device: str) -> Any:
        import torch
        from diffusers import AutoencoderKL

        dtype = torch.float16 if device == "cuda" else torch.float32
        vae = AutoencoderKL.from_pretrained(folder, local_files_only=True, torch_dtype=dtype, low_cpu_mem_usage=False)
        return vae.encoder.eval().to(device)  # the decoder is never needed

    def _image_module(self, model: Any) -> Any:
        from models.torch_util import VaeStatistics

        return VaeStatistics(model)

    def input_norm(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)  # the VAE's [-1, 1] input, as the transform below makes it

    def _make_preprocess(self) -> Callable[[Image.Image], np.ndarray]:
        import torch
        from torchvision.transforms import v2 as T

        t = T.Compose(
            [
                T.ToImage(),
                T.Resize(self.input_size, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                T.CenterCrop(self.input_size),
                T.ToDtype(torch.float32, scale=True),
                T.Normalize([0.5] * 3, [0.5] * 3),
            ]
        )
        return lambda img: t(img).numpy()
