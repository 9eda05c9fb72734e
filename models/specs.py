"""Model specs as data. Each real model has a tiny random-initialised twin with the same files and layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ModelSpec:
    key: str  # the space it serves: "content", "style", "texture"
    folder: str  # folder name under the models dir
    title: str
    family: str  # "open_clip" (local-dir layout), "hf_clip" (transformers), "diffusers_vae"
    hf_repo: str
    weight_files: tuple[str, ...]  # candidates in the HF repo, preferred first
    config_file: str = "config.json"
    hf_subfolder: str = ""  # where config and weights sit inside the HF repo
    # the real architecture (for open_clip also written as its config file) and its tiny test twin
    config: dict[str, Any] = field(default_factory=dict)
    tiny_config: dict[str, Any] = field(default_factory=dict)


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
    title="CLIP ViT-B/16 (OpenAI, open_clip)",
    family="open_clip",
    hf_repo="timm/vit_base_patch16_clip_224.openai",
    weight_files=("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
    config_file="open_clip_config.json",
    config={
        "model_cfg": {
            "embed_dim": 512,
            "quick_gelu": True,  # OpenAI's CLIP was trained with QuickGELU
            "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 16},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12},
        },
        "preprocess_cfg": _PREPROCESS_224,
    },
    tiny_config={
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

# SD v1.4's text encoder is exactly this model's text tower; its image tower brings images into that space.
STYLE = ModelSpec(
    key="style",
    folder="clip-vit-large-patch14",
    title="CLIP ViT-L/14 (OpenAI; SD v1.4's text encoder)",
    family="hf_clip",
    hf_repo="openai/clip-vit-large-patch14",
    weight_files=("model.safetensors", "pytorch_model.bin"),
    config={  # transformers CLIPConfig of openai/clip-vit-large-patch14
        "projection_dim": 768,
        "text_config": {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "max_position_embeddings": 77,
            "vocab_size": 49408,
            "hidden_act": "quick_gelu",
            "eos_token_id": 2,
            "projection_dim": 768,
        },
        "vision_config": {
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_attention_heads": 16,
            "num_hidden_layers": 24,
            "image_size": 224,
            "patch_size": 14,
            "hidden_act": "quick_gelu",
            "projection_dim": 768,
        },
    },
    tiny_config={
        "projection_dim": 24,
        "text_config": {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_hidden_layers": 2,
            "max_position_embeddings": 77,
            "vocab_size": 49408,
            "hidden_act": "quick_gelu",
            "eos_token_id": 2,
            "projection_dim": 24,
        },
        "vision_config": {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_hidden_layers": 2,
            "image_size": 32,
            "patch_size": 8,
            "hidden_act": "quick_gelu",
            "projection_dim": 24,
        },
    },
)

TEXTURE = ModelSpec(
    key="texture",
    folder="sd-v1-4-vae",
    title="Stable Diffusion v1.4 VAE (style descriptor)",
    family="diffusers_vae",
    hf_repo="CompVis/stable-diffusion-v1-4",
    hf_subfolder="vae",
    weight_files=("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"),
    config={  # diffusers AutoencoderKL config of CompVis/stable-diffusion-v1-4/vae
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 4,
        "layers_per_block": 2,
        "norm_num_groups": 32,
        "block_out_channels": [128, 256, 512, 512],
        "sample_size": 512,
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
    },
    tiny_config={
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 4,
        "layers_per_block": 1,
        "norm_num_groups": 4,
        "block_out_channels": [8, 16],
        "sample_size": 32,
        "down_block_types": ["DownEncoderBlock2D"] * 2,
        "up_block_types": ["UpDecoderBlock2D"] * 2,
    },
)

SPECS: dict[str, ModelSpec] = {s.key: s for s in (CONTENT, STYLE, TEXTURE)}


@dataclass(frozen=True)
class LlmSpec:
    """The default suggestion model: any GGUF chat model works (STYLESEEK_LLM=/path/to/model.gguf)."""

    hf_repo: str
    filename: str
    title: str
    folder: str = "llm"  # GGUF files under the models dir
    # the tiny twin for tests: llama architecture, byte-fallback vocabulary, random weights
    tiny: dict[str, int] = field(default_factory=lambda: {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_ff": 128})


# 1.5B parameters, 4-bit: about 1 GB, ~15 tokens/s on two CPU cores, good at short structured answers
LLM = LlmSpec(
    hf_repo="Qwen/Qwen2.5-1.5B-Instruct-GGUF",
    filename="qwen2.5-1.5b-instruct-q4_k_m.gguf",
    title="Qwen2.5 1.5B Instruct (GGUF, Q4_K_M)",
)
