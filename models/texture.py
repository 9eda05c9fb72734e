"""Texture/style descriptor from Stable Diffusion v1.4's VAE encoder (image to image only).

For each down block of the encoder, the channel-wise mean and standard deviation of its feature maps: the
statistics AdaIN and training-free style transfer compare. Each depth's (mean, std) vector is scaled to unit
length so that every depth counts the same (deep layers have much larger activations), then the depths are
concatenated and scaled to unit length overall: inner product = cosine, as in the other spaces.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torchvision.transforms import v2 as T

from models import weights
from models.base import Encoder, l2_normalise
from models.errors import ModelError
from models.specs import TEXTURE
from models.torch_util import pick_device

log = logging.getLogger(__name__)


class TextureEncoder(Encoder):
    spec = TEXTURE

    def _load(self) -> None:
        from diffusers import AutoencoderKL

        folder = weights.resolve(self.spec, self.settings)
        self._device = pick_device(self.settings.device)
        self._dtype = torch.float16 if self._device.type == "cuda" else torch.float32
        try:
            vae = AutoencoderKL.from_pretrained(
                folder, local_files_only=True, torch_dtype=self._dtype, low_cpu_mem_usage=False
            )
        except Exception as e:
            raise ModelError(f"Could not load the VAE from {folder}: {e}") from e
        self._encoder = vae.encoder.eval().to(self._device)  # the decoder is never needed
        del vae
        self._size = int(self.settings.texture_size)
        self._dim = 2 * sum(int(b.resnets[-1].out_channels) for b in self._encoder.down_blocks)
        self._preprocess = T.Compose(
            [
                T.ToImage(),
                T.Resize(self._size, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                T.CenterCrop(self._size),
                T.ToDtype(torch.float32, scale=True),
                T.Normalize([0.5] * 3, [0.5] * 3),
            ]
        )
        self._fingerprint = weights.fingerprint(folder, self.spec) + f"@{self._size}"
        self._random = bool(weights.read_manifest(folder).get("random_weights", False))
        log.info("VAE loaded from %s on %s (descriptor dim %d at %dpx)", folder, self._device, self._dim, self._size)

    @torch.inference_mode()
    def encode_prepared(self, batch: list[Any]) -> np.ndarray:
        self.load()
        if not batch:
            return np.zeros((0, self._dim), np.float32)
        x = self._encoder.conv_in(torch.stack(batch).to(self._device, self._dtype))
        parts = []
        for block in self._encoder.down_blocks:
            x = block(x)
            f = x.float().flatten(2)  # (n, c, h*w)
            stats = torch.cat([f.mean(dim=2), f.std(dim=2)], dim=1)
            parts.append(torch.nn.functional.normalize(stats, dim=1))
        return l2_normalise(torch.cat(parts, dim=1).cpu().numpy())

    def encode_text(self, texts: list[str]) -> np.ndarray:
        raise ModelError("the VAE texture space compares images with images; it has no text encoder")
