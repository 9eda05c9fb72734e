"""Inference backends: PyTorch (CUDA, or the CPU without OpenVINO) and OpenVINO (the CPU: 2.5-3.4x PyTorch's
speed at fp32 with the same embeddings, more at int8).

OpenVINO runs each tower from an IR converted once from the weights the user has (no new downloads) and kept
under `<models dir>/openvino/<model>/`, named by the weights' fingerprint, the precision and the OpenVINO
version. A record beside each IR holds its hashes: an IR that changed or does not load is rebuilt, never
trusted. Conversion traces the PyTorch tower and checks the IR against it (cosine at least 0.999 at fp32)
before saving. int8 is quantised by NNCF, calibrated on the user's own first images.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelError
from models.weights import write_atomic
from settings import Settings

log = logging.getLogger(__name__)
FP32_MIN_COSINE = 0.999  # an fp32 IR that differs more from PyTorch than this is not used
INT8_MIN_COSINE = 0.95  # a sanity floor for int8; its retrieval is measured in BENCHMARKS.md


class Backend(str, Enum):
    TORCH = "torch"
    OPENVINO = "openvino"


class Precision(str, Enum):
    FP32 = "fp32"
    INT8 = "int8"


class Tower(str, Enum):
    IMAGE = "image"
    TEXT = "text"


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def _nvidia_present() -> bool:
    """A cheap hint that CUDA may be there, without importing torch (1-2 s) on machines that have none."""
    if os.path.exists("/dev/nvidia0") or os.path.exists("/proc/driver/nvidia/version"):
        return True
    if os.name == "nt":
        import ctypes.util

        return ctypes.util.find_library("nvcuda") is not None
    return False


def pick_backend(settings: Settings) -> tuple[Backend, str]:
    """(backend, device). auto: PyTorch on CUDA where a GPU is, else OpenVINO where installed, else PyTorch."""
    wanted, device = settings.backend, settings.device
    if wanted == "openvino" or (wanted == "auto" and device == "cpu"):
        if device == "cuda":
            raise ModelError("STYLESEEK_BACKEND=openvino runs on the CPU; use STYLESEEK_BACKEND=torch for CUDA")
        if openvino_available():
            return Backend.OPENVINO, "cpu"
        if wanted == "openvino":
            raise ModelError("STYLESEEK_BACKEND=openvino, but OpenVINO is not installed: pip install openvino")
        return Backend.TORCH, "cpu"
    if wanted == "torch" or device == "cuda" or _nvidia_present():
        from models.torch_util import pick_device

        dev = pick_device(device).type
        if dev == "cuda" or wanted == "torch" or not openvino_available():
            return Backend.TORCH, dev
    return (Backend.OPENVINO, "cpu") if openvino_available() else (Backend.TORCH, "cpu")


def threads(settings: Settings) -> int:
    return settings.inference_threads or os.cpu_count() or 1


# -- the OpenVINO IR cache ---------------------------------------------------------------------------------
def _ov_version() -> str:
    import openvino as ov

    return ov.__version__.split("-")[0]


def _file_hash(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(8 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class IrCache:
    """One tower's IR: `<dir>/<tower>-<fingerprint>-<precision>-ov<version>.{xml,bin,json}`."""

    def __init__(self, settings: Settings, folder: str, tower: Tower, fingerprint: str, precision: Precision) -> None:
        self.dir = settings.resolved_models_dir / "openvino" / folder
        self.stem = f"{tower.value}-{fingerprint}-{precision.value}-ov{_ov_version()}"

    @property
    def xml(self) -> Path:
        return self.dir / f"{self.stem}.xml"

    @property
    def bin(self) -> Path:
        return self.dir / f"{self.stem}.bin"

    @property
    def record(self) -> Path:
        return self.dir / f"{self.stem}.json"

    def valid(self) -> bool:
        """The IR is the one written here: the record's hashes match (the weights file is re-hashed only when
        its size or timestamp moved, so a start stays well under a second)."""
        try:
            rec = json.loads(self.record.read_text())
            st = self.bin.stat()
            if hashlib.sha256(self.xml.read_bytes()).hexdigest() != rec["xml_sha256"] or st.st_size != rec["bin_size"]:
                return False
            if st.st_mtime_ns != rec["bin_mtime_ns"] and _file_hash(self.bin) != rec["bin_blake2b"]:
                return False
            return True
        except (OSError, ValueError, KeyError):
            return False

    def save(self, model: Any, extra: dict) -> None:
        import openvino as ov

        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{self.stem}.{os.getpid()}.tmp.xml"
        ov.save_model(model, tmp, compress_to_fp16=False)
        tmp_bin = tmp.with_suffix(".bin")
        os.replace(tmp_bin, self.bin)  # the .bin first: an .xml never points at a missing or old .bin
        os.replace(tmp, self.xml)
        st = self.bin.stat()
        rec = {
            "xml_sha256": hashlib.sha256(self.xml.read_bytes()).hexdigest(),
            "bin_size": st.st_size,
            "bin_mtime_ns": st.st_mtime_ns,
            "bin_blake2b": _file_hash(self.bin),
            "openvino": _ov_version(),
            "created_at": time.time(),
            **extra,
        }
        write_atomic(self.record, json.dumps(rec, indent=1).encode())

    def remove(self) -> None:
        for p in (self.xml, self.bin, self.record):
            p.unlink(missing_ok=True)


def cosine_floor(a: np.ndarray, b: np.ndarray) -> float:
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float((num / np.maximum(den, 1e-12)).min())


def convert(module: Any, example: np.ndarray, dynamic: list[int]) -> Any:
    """A PyTorch module to an OpenVINO model, dynamic in the given input dimensions. open_clip's ViT fails
    torch.jit.trace's sanity check (its graphs differ between two invocations, not its results), so the trace
    is taken without it and the result is checked against PyTorch instead, by the caller."""
    import openvino as ov
    import torch

    x = torch.from_numpy(example)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about shape checks: the result is checked instead
        traced = torch.jit.trace(module, x, check_trace=False)
    shape = ov.PartialShape([-1 if i in dynamic else d for i, d in enumerate(example.shape)])
    kind = ov.Type.i64 if example.dtype == np.int64 else ov.Type.f32
    return ov.convert_model(traced, example_input=x, input=[(shape, kind)])


class OvTower:
    """A compiled tower; one inference at a time (it uses every core), from any thread."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()

    def __call__(self, x: Any) -> np.ndarray:
        if not isinstance(x, np.ndarray):  # a tensor made by the GPU path
            x = x.detach().float().cpu().numpy()
        with self._lock:
            return np.array(self._request.infer({0: x})[0], dtype=np.float32, copy=True)


def compile_ir(settings: Settings, xml: Path, blob_cache: bool = False) -> OvTower:
    """`blob_cache`: keep OpenVINO's compiled form beside the IR, so a fresh process loads it in about a third
    of the time (0.36 to 0.11 s for ViT-B/16's text tower): worth its disk for the text towers a query waits
    on, not for the big image towers an indexing run loads once."""
    import openvino as ov

    core = ov.Core()
    if blob_cache:
        core.set_property({"CACHE_DIR": str(xml.parent / "compiled")})
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads(settings)}
    return OvTower(core.compile_model(str(xml), "CPU", config))


def openvino_tower(
    settings: Settings,
    cache: IrCache,
    precision: Precision,
    torch_module: Callable[[], Any],
    example: np.ndarray,
    dynamic: list[int],
    fp32_cache: IrCache | None = None,
    calibration: list[np.ndarray] | None = None,
    model_type: str | None = None,
) -> OvTower:
    """The tower from its cached IR, or converted (and for int8, quantised) and cached first."""
    blobs = cache.stem.startswith(Tower.TEXT.value)
    if cache.valid():
        try:
            return compile_ir(settings, cache.xml, blobs)
        except Exception as e:  # noqa: BLE001 - a damaged IR is rebuilt, whatever OpenVINO says about it
            log.warning("OpenVINO IR %s does not load (%s): rebuilding it", cache.xml.name, e)
    elif cache.xml.exists():
        log.warning("OpenVINO IR %s changed since it was written: rebuilding it", cache.xml.name)
    cache.remove()
    import openvino as ov
    import torch

    module = torch_module()
    with torch.inference_mode():
        reference = module(torch.from_numpy(example)).float().numpy()
    if precision == Precision.FP32:
        t0 = time.monotonic()
        model = convert(module, example, dynamic)
        extra: dict = {"converted_in_s": round(time.monotonic() - t0, 1)}
    else:
        if not calibration:
            raise ModelError(
                "int8 needs calibrating on your own pictures first: run `styleseek index` on a folder "
                "(STYLESEEK_PRECISION=int8), or use STYLESEEK_PRECISION=fp32"
            )
        import nncf

        assert fp32_cache is not None
        base = openvino_tower(settings, fp32_cache, Precision.FP32, torch_module, example, dynamic)
        del base  # the fp32 IR now exists on disk; quantise a fresh copy of it
        t0 = time.monotonic()
        data = nncf.Dataset([c[None] for c in calibration])
        kwargs = {"model_type": nncf.ModelType.TRANSFORMER} if model_type == "transformer" else {}
        model = nncf.quantize(ov.Core().read_model(fp32_cache.xml), data, subset_size=len(calibration), **kwargs)
        extra = {"calibration_images": len(calibration), "quantized_in_s": round(time.monotonic() - t0, 1)}
    compiled = OvTower(ov.Core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads(settings)}))
    cos = cosine_floor(compiled(example), reference)
    floor = FP32_MIN_COSINE if precision == Precision.FP32 else INT8_MIN_COSINE
    if cos < floor:
        raise ModelError(f"the OpenVINO {cache.stem} tower does not match PyTorch (cosine {cos:.5f} < {floor})")
    cache.save(model, {**extra, "check_cosine": round(cos, 6)})
    log.info("OpenVINO IR written: %s (cosine to PyTorch %.5f)", cache.xml, cos)
    return compile_ir(settings, cache.xml, blobs)
