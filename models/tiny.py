"""Writes tiny random-initialised models in the real models' file formats and folder layout (tests, demos)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import open_clip
import torch
from safetensors.torch import save_file

from models.specs import SPECS, ModelSpec
from models.weights import CONFIG_FILE, MANIFEST_FILE, write_atomic


def write_tiny_open_clip(spec: ModelSpec, models_dir: Path, seed: int = 0) -> Path:
    folder = models_dir / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / CONFIG_FILE, json.dumps(spec.tiny_open_clip_config, indent=2).encode())
    torch.manual_seed(seed)
    # build it the way the loader will, so the state dict matches key for key
    quiet = logging.getLogger()  # open_clip warns through the root logger that no weights were loaded: intended here
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        model = open_clip.create_model(f"local-dir:{folder}", load_weights=False)
    finally:
        quiet.setLevel(level)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / spec.weight_files[0]))
    write_atomic(folder / MANIFEST_FILE, json.dumps({"model": spec.key, "tiny": True, "seed": seed}).encode())
    return folder


def write_tiny_models(models_dir: Path, seed: int = 0) -> list[Path]:
    return [write_tiny_open_clip(spec, Path(models_dir), seed) for spec in SPECS.values()]
