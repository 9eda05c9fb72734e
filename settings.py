"""One typed settings object for the whole app (env prefix STYLESEEK_, CLI flags override it)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STYLESEEK_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="SQLite catalog, FAISS indices and thumbnails live here.")
    models_dir: Path | None = Field(None, description="Model weights; default <data_dir>/models.")
    content_weights: Path | None = Field(
        None, description="Explicit content-model weights (a .safetensors/.bin state dict, or a folder)."
    )
    allow_download: bool = Field(True, description="Fetch missing weights from the Hugging Face Hub if online.")

    device: Literal["auto", "cpu", "cuda"] = "auto"
    backend: Literal["auto", "torch", "openvino"] = Field(
        "auto", description="Inference engine: auto = PyTorch on CUDA, else OpenVINO (CPU) where installed."
    )
    precision: Literal["fp32", "int8"] = Field(
        "fp32", description="int8 (OpenVINO): faster image towers, calibrated on your first pictures; another index."
    )
    inference_threads: int = Field(0, ge=0, le=256, description="OpenVINO threads; 0 = the CPU count.")
    calibration_images: int = Field(300, ge=1, le=5000, description="Pictures int8 calibration looks at.")
    content_first: Literal["auto", "on", "off"] = Field(
        "auto", description="Index the content space for every file before the style spaces (auto: on the CPU)."
    )
    batch_size: int = Field(16, ge=1, le=1024)
    gpu_decode: Literal["auto", "off"] = Field(
        "auto", description="Decode JPEGs on the GPU with nvImageCodec when indexing on CUDA (the gpu extra)."
    )
    decode_workers: int = Field(0, ge=0, le=64, description="Image decoding threads; 0 picks from the CPU count.")
    max_image_pixels: int = Field(
        2_000_000_000, ge=1, description="Larger images are refused (a 1000-MP museum scan is indexed)."
    )
    big_decode_mb: int = Field(
        256, ge=1, description="A picture whose full decode needs more memory than this is streamed by libvips."
    )
    style_search: bool = Field(True, description="Index the style spaces too, where their weights are present.")
    texture_size: int = Field(128, ge=32, le=1024, description="Side of the square the VAE descriptor sees.")
    thumbnail_size: int = Field(400, ge=64, le=2048)
    preview_size: int = Field(2048, ge=256, le=8192)
    search_threads: int = Field(0, ge=0, le=256, description="FAISS/OpenBLAS threads; 0 = min(4, CPU count).")
    ann_threshold: int = Field(  # 100k exact: 1.7 GB, a 5-term query 141 ms on 2 cores; 300k: 4.8 GB, 457 ms
        100_000, ge=0, description="Above this many pictures a space's index is approximate (IVF-SQ8); 0 = never."
    )
    ann_nprobe: int = Field(32, ge=1, le=4096, description="Lists an approximate search visits (recall vs time).")
    checkpoint_seconds: float = Field(300.0, gt=0, description="How often a long run saves its FAISS files.")

    llm: str = Field(
        "auto",
        description="Query suggestions: 'auto' (a GGUF under <models_dir>/llm, the HF cache, else the rule-based "
        "suggester), a path to a .gguf file, a Hugging Face repo id, or 'off' (rules only).",
    )
    llm_file: str = Field("", description="The GGUF file in the repo or folder; default: the spec's (Q4_K_M).")
    llm_timeout_s: float = Field(60.0, gt=0, le=600, description="A suggestion that takes longer is stopped.")
    llm_threads: int = Field(0, ge=0, le=256, description="llama.cpp threads; 0 = the CPU count.")

    time_display: Literal["taken", "here"] = Field(
        "taken", description="Show when photos were taken on the clock where they were taken, or on this computer's."
    )

    host: str = "127.0.0.1"
    port: int = Field(5001, ge=1, le=65535)

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @cached_property
    def resolved_models_dir(self) -> Path:
        return (self.models_dir or self.resolved_data_dir / "models").expanduser().resolve()

    @property
    def db_path(self) -> Path:
        return self.resolved_data_dir / "styleseek.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.resolved_data_dir / "indices"

    @property
    def thumbs_dir(self) -> Path:
        return self.resolved_data_dir / "thumbs"
