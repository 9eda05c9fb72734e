"""Where weights come from: the models folder, an explicit path, the Hugging Face cache, then a download.

A model folder holds its config file plus one weights file: for open_clip the layout of its `local-dir:`
schema (`open_clip_config.json`), for transformers and diffusers what `save_pretrained` writes (`config.json`).
Real and tiny models load through exactly the same code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from basics import write_atomic  # noqa: F401 - the models' writers import it from here
from models.errors import WeightsMissingError
from models.specs import ModelSpec
from settings import Settings

MANIFEST_FILE = "styleseek.json"


@dataclass(frozen=True)
class ModelStatus:
    key: str
    title: str
    present: bool
    folder: Path
    source: str  # "models dir", "explicit path", "hf cache", or "missing"
    random_weights: bool  # written by `styleseek models tiny` (or the benchmark): not a real model

    def to_dict(self) -> dict:
        return {
            "model": self.key,
            "title": self.title,
            "present": self.present,
            "folder": str(self.folder),
            "source": self.source,
            "random_weights": self.random_weights,
        }


def model_folder(spec: ModelSpec, settings: Settings) -> Path:
    return settings.resolved_models_dir / spec.folder


def _weights_in(folder: Path, spec: ModelSpec) -> Path | None:
    for name in spec.weight_files:
        if (folder / name).is_file():
            return folder / name
    return None


def _folder_ready(folder: Path, spec: ModelSpec) -> bool:
    return (folder / spec.config_file).is_file() and _weights_in(folder, spec) is not None


def read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _materialize(spec: ModelSpec, settings: Settings, weights: Path, source: str) -> Path:
    """Make a loadable folder in the models dir around a weights file found elsewhere (linked, not copied)."""
    folder = model_folder(spec, settings)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.weight_files[0] if weights.suffix == ".safetensors" else folder / spec.weight_files[-1]
    if target.exists() or target.is_symlink():
        target.unlink()
    try:
        target.symlink_to(weights.resolve())
    except OSError:
        shutil.copyfile(weights, target)
    write_atomic(folder / spec.config_file, json.dumps(spec.config, indent=2).encode())
    write_atomic(
        folder / MANIFEST_FILE, json.dumps({"model": spec.key, "random_weights": False, "source": source}).encode()
    )
    return folder


def _hf_cached(spec: ModelSpec) -> Path | None:
    """open_clip: the weights file (a folder is built around it); others: the cached snapshot folder."""
    from huggingface_hub import try_to_load_from_cache

    sub = f"{spec.hf_subfolder}/" if spec.hf_subfolder else ""
    if spec.family != "open_clip":
        cfg = try_to_load_from_cache(spec.hf_repo, sub + spec.config_file)
        if not (isinstance(cfg, str) and Path(cfg).is_file()):
            return None
    for name in spec.weight_files:
        hit = try_to_load_from_cache(spec.hf_repo, sub + name)
        if isinstance(hit, str) and Path(hit).is_file():
            return Path(hit) if spec.family == "open_clip" else Path(hit).parent
    return None


def _explicit(spec: ModelSpec, settings: Settings) -> Path | None:
    return settings.content_weights if spec.key == "content" else None


def locate(spec: ModelSpec, settings: Settings) -> ModelStatus:
    """What is on this machine, without downloading anything."""
    explicit = _explicit(spec, settings)
    if explicit is not None:
        explicit = explicit.expanduser()
        if explicit.is_dir() and _folder_ready(explicit, spec):
            return ModelStatus(spec.key, spec.title, True, explicit, "explicit path", _is_random(explicit))
        if explicit.is_file():
            return ModelStatus(spec.key, spec.title, True, explicit, "explicit path", False)
    folder = model_folder(spec, settings)
    if _folder_ready(folder, spec):
        return ModelStatus(spec.key, spec.title, True, folder, "models dir", _is_random(folder))
    cached = _hf_cached(spec)
    if cached is not None:
        return ModelStatus(spec.key, spec.title, True, cached, "hf cache", False)
    return ModelStatus(spec.key, spec.title, False, folder, "missing", False)


def _is_random(folder: Path) -> bool:
    return bool(read_manifest(folder).get("random_weights"))


def _offline(settings: Settings) -> bool:
    return not settings.allow_download or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false")


def missing_message(spec: ModelSpec, settings: Settings, reason: str = "") -> str:
    folder = model_folder(spec, settings)
    url = f"https://huggingface.co/{spec.hf_repo}" + (f"/tree/main/{spec.hf_subfolder}" if spec.hf_subfolder else "")
    files = spec.weight_files[0] if spec.family == "open_clip" else f"{spec.config_file} and {spec.weight_files[0]}"
    lines = [
        f"The {spec.title} weights are not on this machine{f' ({reason})' if reason else ''}.",
        "Provide them in one of these ways:",
        f"  1. on a connected machine run `styleseek models download` (fetches {spec.hf_repo}),",
        f"     or copy its folder {folder} here;",
        f"  2. put {files} from {url}",
        f"     into {folder}/ and run `styleseek models status`;",
    ]
    if spec.key == "content":
        lines.append("  3. point STYLESEEK_CONTENT_WEIGHTS at a state-dict file (.safetensors/.bin) of those weights.")
    lines += [
        "For tests and demos only: `styleseek models tiny DIR` writes random-weight stand-ins",
        "(set STYLESEEK_MODELS_DIR=DIR); their search results are meaningless.",
    ]
    return "\n".join(lines)


def download(spec: ModelSpec, settings: Settings) -> Path:
    """Fetch the weights from the Hugging Face Hub into its cache (open_clip: linked into the models dir)."""
    from huggingface_hub import hf_hub_download, snapshot_download

    if spec.family != "open_clip":
        sub = f"{spec.hf_subfolder}/" if spec.hf_subfolder else ""
        problems = []
        for name in spec.weight_files:  # safetensors first; older repos may only have the .bin
            try:
                snap = Path(snapshot_download(spec.hf_repo, allow_patterns=[sub + spec.config_file, sub + name]))
            except Exception as e:  # noqa: BLE001 - any hub failure ends in the same advice
                problems.append(f"{name}: {type(e).__name__}: {e}")
                continue
            folder = snap / spec.hf_subfolder if spec.hf_subfolder else snap
            if _folder_ready(folder, spec):
                return folder
            problems.append(f"{name}: not in the repository")
        raise WeightsMissingError(missing_message(spec, settings, "download failed: " + "; ".join(problems)[:500]))
    errors = []
    for name in spec.weight_files:
        try:
            path = Path(hf_hub_download(spec.hf_repo, name))
        except Exception as e:  # noqa: BLE001 - any hub failure means: try the next file, then explain
            errors.append(f"{name}: {type(e).__name__}: {e}")
            continue
        return _materialize(spec, settings, path, f"hf hub {spec.hf_repo}")
    raise WeightsMissingError(missing_message(spec, settings, "download failed: " + "; ".join(errors)[:500]))


def resolve(spec: ModelSpec, settings: Settings) -> Path:
    """A folder that open_clip's `local-dir:` loader accepts, or WeightsMissingError."""
    status = locate(spec, settings)
    if status.present:
        if status.folder.is_dir():  # a loadable folder; a bare weights file gets one built around it
            return status.folder
        return _materialize(spec, settings, status.folder, status.source)
    if _offline(settings):
        raise WeightsMissingError(missing_message(spec, settings, "downloads are off"))
    return download(spec, settings)


def fingerprint(folder: Path, spec: ModelSpec) -> str:
    """Identifies the weights an index was built with: config, size and the first MiB of the weights."""
    weights = _weights_in(folder, spec)
    assert weights is not None
    h = hashlib.sha256((folder / spec.config_file).read_bytes())
    h.update(str(weights.stat().st_size).encode())
    with open(weights, "rb") as f:
        h.update(f.read(1 << 20))
    return h.hexdigest()[:16]
