"""Style space: OpenAI CLIP ViT-L/14 through transformers (768-d).

Its text tower is exactly Stable Diffusion v1.4's text encoder, so style terms ("van gogh style") are read
the way SD reads prompts; its image tower and projection put images into the same space.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import open_clip
import torch
from open_clip.transform import image_transform

from models import weights
from models.base import Encoder, l2_normalise
from models.errors import ModelError
from models.specs import OPENAI_MEAN, OPENAI_STD, STYLE
from models.torch_util import pick_device

log = logging.getLogger(__name__)


class StyleEncoder(Encoder):
    spec = STYLE

    def _load(self) -> None:
        from transformers import CLIPModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no per-tensor progress bar on every start
        folder = weights.resolve(self.spec, self.settings)
        self._device = pick_device(self.settings.device)
        self._dtype = torch.float16 if self._device.type == "cuda" else torch.float32
        try:
            model = CLIPModel.from_pretrained(folder, local_files_only=True, dtype=self._dtype)
        except Exception as e:  # a corrupt or mismatched weights file must say which folder
            raise ModelError(f"Could not load the style model from {folder}: {e}") from e
        self._model = model.eval().to(self._device)
        cfg = model.config
        self._size = int(cfg.vision_config.image_size)
        self._dim = int(cfg.projection_dim)
        # open_clip's BPE tokenizer gives the same ids as CLIPTokenizer for this model, and ships its vocabulary
        self._tokenizer = open_clip.get_tokenizer("ViT-L-14")
        self._preprocess = image_transform(
            self._size,
            is_train=False,
            mean=OPENAI_MEAN,
            std=OPENAI_STD,
            interpolation="bicubic",
            resize_mode="shortest",
        )
        self._fingerprint = weights.fingerprint(folder, self.spec)
        self._random = bool(weights.read_manifest(folder).get("random_weights", False))
        log.info("style model loaded from %s on %s (dim %d)", folder, self._device, self._dim)

    @torch.inference_mode()
    def encode_prepared(self, batch: list[Any]) -> np.ndarray:
        self.load()
        if not batch:
            return np.zeros((0, self._dim), np.float32)
        x = torch.stack(batch).to(self._device, self._dtype)
        pooled = self._model.vision_model(pixel_values=x).pooler_output
        return l2_normalise(self._model.visual_projection(pooled).float().cpu().numpy())

    @torch.inference_mode()
    def encode_text(self, texts: list[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self._dim), np.float32)
        return l2_normalise(self._encode_tokens(self._tokenizer(texts)).float().cpu().numpy())

    def _encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        # no padding after the longest text: the causal mask keeps the end-of-text output the same
        n = int((tokens != 0).sum(dim=1).max().item())
        out = self._model.text_model(input_ids=tokens[:, :n].to(self._device))
        return self._model.text_projection(out.pooler_output)
