"""Content space: open_clip ViT-B/16 with OpenAI weights (512-d)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import open_clip
import torch

from models import weights
from models.base import Encoder, l2_normalise
from models.errors import ModelError
from models.specs import CONTENT
from models.torch_util import pick_device

log = logging.getLogger(__name__)


class ContentEncoder(Encoder):
    spec = CONTENT

    def _load(self) -> None:
        folder = weights.resolve(self.spec, self.settings)
        self._device = pick_device(self.settings.device)
        self._dtype = torch.float16 if self._device.type == "cuda" else torch.float32
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}")
            self._tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
        except Exception as e:  # a corrupt or mismatched weights file must say which file
            raise ModelError(f"Could not load the content model from {folder}: {e}") from e
        self._model = model.eval().to(self._device, self._dtype)
        self._preprocess = preprocess
        self._dim = int(model.text_projection.shape[1])
        self._size = int(
            model.visual.image_size[0] if isinstance(model.visual.image_size, tuple) else model.visual.image_size
        )
        self._fingerprint = weights.fingerprint(folder, self.spec)
        self._random = bool(weights.read_manifest(folder).get("random_weights", False))
        log.info("content model loaded from %s on %s (dim %d)", folder, self._device, self._dim)

    @torch.inference_mode()
    def encode_prepared(self, batch: list[Any]) -> np.ndarray:
        self.load()
        if not batch:
            return np.zeros((0, self._dim), np.float32)
        x = torch.stack(batch).to(self._device, self._dtype, non_blocking=True)
        feats = self._model.encode_image(x)
        return l2_normalise(feats.float().cpu().numpy())

    @torch.inference_mode()
    def encode_text(self, texts: list[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self._dim), np.float32)
        tokens = self._tokenizer(texts).to(self._device)
        return l2_normalise(self._encode_tokens(tokens).float().cpu().numpy())

    def _encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """open_clip's encode_text without the padding after the longest text: with CLIP's causal mask the
        end-of-text output never sees what follows it, so the result is the same at a fraction of the cost."""
        m = self._model
        mask = getattr(m, "attn_mask", None)
        if mask is None or getattr(m, "text_pool_type", "argmax") != "argmax":
            return m.encode_text(tokens)
        n = int((tokens != 0).sum(dim=1).max().item())  # 0 is open_clip's padding id
        tokens = tokens[:, :n]
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(tokens).to(cast) + m.positional_embedding[:n].to(cast)
        x = m.ln_final(m.transformer(x, attn_mask=mask[:n, :n]))
        x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
        return m.text_projection(x) if isinstance(m.text_projection, torch.nn.Linear) else x @ m.text_projection
