"""Style space: OpenAI CLIP ViT-L/14 through transformers (768-d).

Its text tower is exactly Stable Diffusion v1.4's text encoder, so style terms ("van gogh style") are read
the way SD reads prompts; its image tower and projection put images into the same space.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models.base import Encoder
from models.clip_io import clip_preprocess, clip_tokenizer
from models.specs import OPENAI_MEAN, OPENAI_STD, STYLE


class StyleEncoder(Encoder):
    spec = STYLE

    def _read_identity(self, folder: Path) -> tuple[int, int]:
        cfg = json.loads((folder / self.spec.config_file).read_text())
        return int(cfg["projection_dim"]), int(cfg["vision_config"]["image_size"])

    def _load_torch(self, folder: Path, device: str) -> Any:
        import torch
        from transformers import CLIPModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no per-tensor progress bar on every start
        dtype = torch.float16 if device == "cuda" else torch.float32
        return CLIPModel.from_pretrained(folder, local_files_only=True, dtype=dtype).eval().to(device)

    def _image_module(self, model: Any) -> Any:
        from models.torch_util import HfClipImage

        return HfClipImage(model)

    def _text_module(self, model: Any) -> Any:
        from models.torch_util import HfClipText

        return HfClipText(model)

    def _make_preprocess(self) -> Callable[[Image.Image], np.ndarray]:
        return clip_preprocess(self.input_size, OPENAI_MEAN, OPENAI_STD)

    def _tokenize(self, texts: list[str]) -> np.ndarray:
        # open_clip's BPE gives the same ids as CLIPTokenizer for this model (no padding after the longest text:
        # the causal mask keeps the end-of-text output the same)
        return clip_tokenizer()(texts)
