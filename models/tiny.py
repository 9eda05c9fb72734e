"""Writes random-initialised models in the real models' file formats and folder layout.

`tiny` models are for tests and demos (seconds to load, meaningless results); `full` models have the real
architecture and size, for benchmarks: their speed is real even though their weights are not.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

import open_clip
import torch
from safetensors.torch import save_file

from models.specs import SPECS, ModelSpec
from models.weights import CONFIG_FILE, MANIFEST_FILE, write_atomic

Size = Literal["tiny", "full"]


def write_random_open_clip(spec: ModelSpec, models_dir: Path, size: Size = "tiny", seed: int = 0) -> Path:
    folder = models_dir / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    config = spec.tiny_open_clip_config if size == "tiny" else spec.open_clip_config
    write_atomic(folder / CONFIG_FILE, json.dumps(config, indent=2).encode())
    torch.manual_seed(seed)
    quiet = logging.getLogger()  # open_clip warns through the root logger that no weights were loaded: intended
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        # built the way the loader builds it, so the state dict matches key for key
        model = open_clip.create_model(f"local-dir:{folder}", load_weights=False)
    finally:
        quiet.setLevel(level)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / spec.weight_files[0]))
    manifest = {"model": spec.key, "random_weights": True, "size": size, "seed": seed}
    write_atomic(folder / MANIFEST_FILE, json.dumps(manifest).encode())
    return folder


def write_tiny_models(models_dir: Path, seed: int = 0) -> list[Path]:
    return [write_random_open_clip(spec, Path(models_dir), "tiny", seed) for spec in SPECS.values()]


def write_full_random_models(models_dir: Path, seed: int = 0) -> list[Path]:
    return [write_random_open_clip(spec, Path(models_dir), "full", seed) for spec in SPECS.values()]
