"""Writes random-initialised models in the real models' file formats and folder layout.

`tiny` models are for tests and demos (seconds to load, meaningless results); `full` models have the real
architecture and size, for benchmarks: their speed is real even though their weights are not.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

import torch

from models.specs import SPECS, ModelSpec
from models.weights import MANIFEST_FILE, write_atomic

Size = Literal["tiny", "full"]


def _open_clip(spec: ModelSpec, folder: Path, config: dict) -> None:
    import open_clip
    from safetensors.torch import save_file

    write_atomic(folder / spec.config_file, json.dumps(config, indent=2).encode())
    quiet = logging.getLogger()  # open_clip warns through the root logger that no weights were loaded: intended
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        # built the way the loader builds it, so the state dict matches key for key
        model = open_clip.create_model(f"local-dir:{folder}", load_weights=False)
    finally:
        quiet.setLevel(level)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / spec.weight_files[0]))


def _hf_clip(spec: ModelSpec, folder: Path, config: dict) -> None:
    from transformers import CLIPConfig, CLIPModel

    CLIPModel(CLIPConfig(**config)).save_pretrained(folder, safe_serialization=True)


def _vae(spec: ModelSpec, folder: Path, config: dict) -> None:
    from diffusers import AutoencoderKL

    AutoencoderKL(**config).save_pretrained(folder, safe_serialization=True)


WRITERS = {"open_clip": _open_clip, "hf_clip": _hf_clip, "diffusers_vae": _vae}


def write_random_model(spec: ModelSpec, models_dir: Path, size: Size = "tiny", seed: int = 0) -> Path:
    folder = Path(models_dir) / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    WRITERS[spec.family](spec, folder, spec.tiny_config if size == "tiny" else spec.config)
    manifest = {"model": spec.key, "random_weights": True, "size": size, "seed": seed}
    write_atomic(folder / MANIFEST_FILE, json.dumps(manifest).encode())
    return folder


def write_tiny_models(models_dir: Path, seed: int = 0, keys: tuple[str, ...] | None = None) -> list[Path]:
    return [write_random_model(SPECS[k], Path(models_dir), "tiny", seed) for k in (keys or tuple(SPECS))]


def write_full_random_models(models_dir: Path, seed: int = 0, keys: tuple[str, ...] | None = None) -> list[Path]:
    return [write_random_model(SPECS[k], Path(models_dir), "full", seed) for k in (keys or tuple(SPECS))]
