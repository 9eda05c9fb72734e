"""Model specs as data. Each real model has a tiny random-initialised twin with the same files and layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ModelSpec:
    key: str  # the space it serves: "content", later "style", "texture", "llm"
    folder: str  # folder name under the models dir
    title: str
    hf_repo: str
    weight_files: tuple[str, ...]  # candidates in the HF repo, preferred first
    open_clip_config: dict[str, Any] = field(default_factory=dict)  # written as open_clip_config.json
    tiny_open_clip_config: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.open_clip_config["model_cfg"]["embed_dim"])


_PREPROCESS_224 = {
    "size": 224,
    "mode": "RGB",
    "mean": list(OPENAI_MEAN),
    "std": list(OPENAI_STD),
    "interpolation": "bicubic",
    "resize_mode": "shortest",
}

CONTENT = ModelSpec(
    key="content",
    folder="clip-vit-b-16-openai",
    title="CLIP ViT-B/16, OpenAI weights (open_clip)",
    hf_repo="timm/vit_base_patch16_clip_224.openai",
    weight_files=("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
    open_clip_config={
        "model_cfg": {
            "embed_dim": 512,
            "quick_gelu": True,  # OpenAI's CLIP was trained with QuickGELU
            "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 16},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12},
        },
        "preprocess_cfg": _PREPROCESS_224,
    },
    tiny_open_clip_config={
        "model_cfg": {
            "embed_dim": 32,
            "quick_gelu": True,
            "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
            # the vocabulary stays full-size: open_clip's tokenizer emits ids up to 49407
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
        },
        "preprocess_cfg": {**_PREPROCESS_224, "size": 32},
    },
)

SPECS: dict[str, ModelSpec] = {s.key: s for s in (CONTENT,)}
