"""Writes random-initialised models in the real models' file formats and folder layout.

`tiny` models are for tests and demos (seconds to load, meaningless results); `full` models have the real
architecture and size, for benchmarks: their speed is real even though their weights are not.
"""

from __future__ import annotations

import json
import logging
import os
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


def write_tiny_models(
    models_dir: Path, seed: int = 0, keys: tuple[str, ...] | None = None, llm: bool = False
) -> list[Path]:
    out = [write_random_model(SPECS[k], Path(models_dir), "tiny", seed) for k in (keys or tuple(SPECS))]
    return out + ([write_random_llm(Path(models_dir), seed=seed)] if llm else [])


def write_full_random_models(models_dir: Path, seed: int = 0, keys: tuple[str, ...] | None = None) -> list[Path]:
    return [write_random_model(SPECS[k], Path(models_dir), "full", seed) for k in (keys or tuple(SPECS))]


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def write_random_llm(
    models_dir: Path, size: dict[str, int] | None = None, seed: int = 0, name: str = "tiny-random-llama"
) -> Path:
    """A llama-architecture GGUF with random weights, written with the `gguf` package: a SentencePiece-style
    vocabulary with byte fallback (so any text, and any JSON, can be produced), ChatML control tokens and a
    chat template. llama-cpp-python loads it like any downloaded model. `size` may also give n_head_kv
    (grouped-query attention), n_vocab (filler tokens up to that size) and f16=1: the benchmark's full-size
    twin of the default model."""
    import gguf
    import numpy as np

    from models.llm import RANDOM_SUFFIX
    from models.specs import LLM

    dims = size or LLM.tiny
    e, layers, heads, ff = dims["n_embd"], dims["n_layer"], dims["n_head"], dims["n_ff"]
    kv_heads = dims.get("n_head_kv", heads)
    dtype = np.float16 if dims.get("f16") else np.float32
    folder = Path(models_dir) / LLM.folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.gguf"
    T = gguf.TokenType
    tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    types = [T.UNKNOWN, T.CONTROL, T.CONTROL, T.CONTROL, T.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [T.BYTE] * 256
    words = ["▁", *(chr(c) for c in range(33, 127)), *(f"▁{w}" for w in ("the", "style", "content", "location"))]
    tokens += words
    types += [T.NORMAL] * len(words)
    filler = dims.get("n_vocab", 0) - len(tokens)  # a real model's vocabulary size: the output layer's cost
    tokens += [f"▁w{i}" if i % 2 else f"t{i}" for i in range(max(0, filler))]
    types += [T.NORMAL] * max(0, filler)
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name(f"styleseek {name} (random weights)")
    w.add_context_length(8192)
    w.add_embedding_length(e)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(e // heads)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == np.float16 else gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * len(tokens))
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(4)  # <|im_end|> ends an answer
    w.add_unk_token_id(0)
    w.add_chat_template(CHATML)

    def rand(tensor: str, *shape: int) -> None:  # numpy shapes are ggml's dimensions reversed
        w.add_tensor(tensor, (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(dtype))

    rand("token_embd.weight", len(tokens), e)
    w.add_tensor("output_norm.weight", np.ones(e, np.float32))
    rand("output.weight", len(tokens), e)
    for i in range(layers):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(e, np.float32))
        kv = kv_heads * (e // heads)
        rand(f"blk.{i}.attn_q.weight", e, e)
        rand(f"blk.{i}.attn_k.weight", kv, e)
        rand(f"blk.{i}.attn_v.weight", kv, e)
        rand(f"blk.{i}.attn_output.weight", e, e)
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(e, np.float32))
        rand(f"blk.{i}.ffn_gate.weight", ff, e)
        rand(f"blk.{i}.ffn_up.weight", ff, e)
        rand(f"blk.{i}.ffn_down.weight", e, ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, path)
    write_atomic(Path(str(path) + RANDOM_SUFFIX), json.dumps({"random_weights": True, "seed": seed}).encode())
    return path
