"""Content space: open_clip ViT-B/16 with OpenAI weights (512-d)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models.base import Encoder
from models.clip_io import clip_preprocess, clip_tokenizer
from models.specs import CONTENT, OPENAI_MEAN, OPENAI_STD


class ContentEncoder(Encoder):
    spec = CONTENT

    def _config(self) -> dict:
        return json.loads((self.identity.folder / self.spec.config_file).read_text())

    def _read_identity(self, folder: Path) -> tuple[int, int]:
        cfg = json.loads((folder / self.spec.config_file).read_text())["model_cfg"]
        size = cfg["vision_cfg"]["image_size"]
        return int(cfg["embed_dim"]), int(size[0] if isinstance(size, list | tuple) else size)

    def _load_torch(self, folder: Path, device: str) -> Any:
        import open_clip
        import torch

        model = open_clip.create_model(f"local-dir:{folder}")
        return model.eval().to(device, torch.float16 if device == "cuda" else torch.float32)

    def _image_module(self, model: Any) -> Any:
        return model.visual

    def _text_module(self, model: Any) -> Any:
        from models.torch_util import OpenClipText

        return OpenClipText(model)

    def input_norm(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        pre = self._config().get("preprocess_cfg", {})
        return tuple(pre.get("mean", OPENAI_MEAN)), tuple(pre.get("std", OPENAI_STD))

    def _make_preprocess(self) -> Callable[[Image.Image], np.ndarray]:
        pre = self._config().get("preprocess_cfg", {})
        return clip_preprocess(self.input_size, tuple(pre.get("mean", OPENAI_MEAN)), tuple(pre.get("std", OPENAI_STD)))

    def _tokenize(self, texts: list[str]) -> np.ndarray:
        return clip_tokenizer()(texts)
