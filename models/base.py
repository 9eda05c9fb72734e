"""Encoder base: loading done once, here, as Immich's model base does it. `load()` resolves the weights and
reads the encoder's identity from its config (fingerprint, dimension, input size: no inference engine); the
backend and precision are picked once; each tower (image, text) is loaded lazily on its first use, from the
OpenVINO IR or from PyTorch. A subclass supplies only what differs: its identity, its PyTorch towers, its
preprocessing and its tokenizer. Out: L2-normalised float32 numpy.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models import weights
from models.backend import Backend, IrCache, OvTower, Precision, Tower, openvino_tower, pick_backend
from models.errors import ModelError
from models.specs import ModelSpec
from settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    folder: Path
    fingerprint: str  # the weights, the input settings and the precision: an index refuses any other
    dim: int
    size: int  # side of the square the image tower sees
    random: bool  # written by `styleseek models tiny` or the benchmark: not a real model
    backend: Backend
    device: str  # "cpu" or "cuda"
    precision: Precision


class Encoder(ABC):
    spec: ModelSpec
    has_text: bool = True
    quantize_as: str | None = "transformer"  # NNCF's model type for int8

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._id: Identity | None = None
        self._towers: dict[Tower, Callable[[np.ndarray], np.ndarray]] = {}
        self._torch_model: Any = None
        self._preprocess: Callable[[Image.Image], np.ndarray] | None = None
        self._calibration: list[np.ndarray] | None = None

    # -- what a subclass supplies ---------------------------------------------------------------------------
    @abstractmethod
    def _read_identity(self, folder: Path) -> tuple[int, int]:
        """(dimension, input size) from the config files: no weights are read."""

    def _fingerprint_suffix(self) -> str:
        return ""

    @abstractmethod
    def _load_torch(self, folder: Path, device: str) -> Any:
        """The PyTorch model (fp16 on CUDA): for the torch backend, and as the source of OpenVINO's IR."""

    @abstractmethod
    def _image_module(self, model: Any) -> Any:
        """A torch.nn.Module from (n, 3, size, size) float32 to (n, dim)."""

    def _text_module(self, model: Any) -> Any:
        """A torch.nn.Module from (n, length) int64 token ids to (n, dim)."""
        raise ModelError(f"the {self.spec.key} space has no text encoder")

    @abstractmethod
    def _make_preprocess(self) -> Callable[[Image.Image], np.ndarray]: ...

    def _tokenize(self, texts: list[str]) -> np.ndarray:
        raise ModelError(f"the {self.spec.key} space compares images with images; it has no text encoder")

    # -- loading, once ------------------------------------------------------------------------------------------
    def load(self) -> None:
        if self._id is not None:
            return
        with self._lock:
            if self._id is not None:
                return
            folder = weights.resolve(self.spec, self.settings)
            dim, size = self._read_identity(folder)
            backend, device = pick_backend(self.settings)
            precision = Precision(self.settings.precision)
            if precision == Precision.INT8 and backend != Backend.OPENVINO:
                raise ModelError("STYLESEEK_PRECISION=int8 needs the OpenVINO backend (CPU): pip install openvino")
            fp = weights.fingerprint(folder, self.spec) + self._fingerprint_suffix()
            self._id = Identity(
                folder,
                fp + ("@int8" if precision == Precision.INT8 else ""),
                dim,
                size,
                bool(weights.read_manifest(folder).get("random_weights", False)),
                backend,
                device,
                precision,
            )
            log.info("%s model: %s on %s, %s (%s)", self.spec.key, folder, backend.value, device, precision.value)

    @property
    def identity(self) -> Identity:
        self.load()
        assert self._id is not None
        return self._id

    @property
    def loaded(self) -> bool:
        return self._id is not None

    @property
    def dim(self) -> int:
        return self.identity.dim

    @property
    def fingerprint(self) -> str:
        """Identifies the weights (and input settings, and int8): an index refuses vectors from another model."""
        return self.identity.fingerprint

    @property
    def input_size(self) -> int:
        """Side of the square the model sees; decoders may downscale to it."""
        return self.identity.size

    @property
    def random_weights(self) -> bool:
        return self.identity.random

    @property
    def device(self) -> str:
        """ "cuda" or "cpu": where the model runs."""
        return self.identity.device

    @property
    def backend(self) -> Backend:
        return self.identity.backend

    def _torch(self) -> Any:
        with self._lock:
            if self._torch_model is None:
                ident = self.identity
                try:
                    self._torch_model = self._load_torch(ident.folder, ident.device)
                except ModelError:
                    raise
                except Exception as e:  # a corrupt or mismatched weights file must say which folder
                    raise ModelError(f"Could not load the {self.spec.key} model from {ident.folder}: {e}") from e
            return self._torch_model

    def _example(self, tower: Tower) -> np.ndarray:
        if tower == Tower.TEXT:
            return self._tokenize(["a photo of a dog on a beach", "van gogh"])
        rng = np.random.default_rng(0)
        return rng.standard_normal((2, 3, self.input_size, self.input_size)).astype(np.float32)

    def _tower(self, tower: Tower) -> Callable[[np.ndarray], np.ndarray]:
        if tower in self._towers:
            return self._towers[tower]
        with self._lock:
            if tower not in self._towers:
                self._towers[tower] = self._load_tower(tower)
            return self._towers[tower]

    def _load_tower(self, tower: Tower) -> Callable[[np.ndarray], np.ndarray]:
        ident = self.identity
        build = self._image_module if tower == Tower.IMAGE else self._text_module
        if ident.backend == Backend.TORCH:
            return TorchTower(build(self._torch()), ident.device)
        precision = ident.precision if tower == Tower.IMAGE else Precision.FP32  # queries stay fp32
        base_fp = ident.fingerprint.removesuffix("@int8")

        def cache(p: Precision) -> IrCache:
            return IrCache(self.settings, self.spec.folder, tower, base_fp, p)

        def torch_module() -> Any:
            return build(self._torch()).float().cpu()

        try:
            return openvino_tower(
                self.settings,
                cache(precision),
                precision,
                torch_module,
                self._example(tower),
                dynamic=[0] if tower == Tower.IMAGE else [0, 1],
                fp32_cache=cache(Precision.FP32),
                calibration=self._calibration,
                model_type=self.quantize_as,
            )
        except ModelError as e:
            if precision == Precision.INT8:
                raise
            log.warning("%s: %s; using PyTorch for this tower", self.spec.key, e)
            return TorchTower(build(self._torch()), ident.device)

    # -- int8 calibration -----------------------------------------------------------------------------------------
    @property
    def needs_calibration(self) -> bool:
        """int8 without its quantised image tower yet: calibrate() on the collection's own first pictures."""
        ident = self.identity
        if ident.precision != Precision.INT8 or Tower.IMAGE in self._towers:
            return False
        return not IrCache(
            self.settings, self.spec.folder, Tower.IMAGE, ident.fingerprint.removesuffix("@int8"), Precision.INT8
        ).valid()

    def calibrate(self, prepared: list[np.ndarray]) -> None:
        """Quantise the image tower to int8 with these prepared pictures (NNCF; a few hundred is plenty)."""
        with self._lock:
            self._calibration = list(prepared)
            try:
                self._tower(Tower.IMAGE)
            finally:
                self._calibration = None

    # -- encoding ---------------------------------------------------------------------------------------------
    def warm(self, text: bool = True, image: bool = False) -> None:
        """Load the towers now (the server does it at start, so the first search is quick)."""
        if text and self.has_text:
            self._tower(Tower.TEXT)
        if image:
            self._tower(Tower.IMAGE)

    def input_norm(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) of the image input, for preprocessing done elsewhere (the GPU path): OpenAI CLIP's."""
        from models.specs import OPENAI_MEAN, OPENAI_STD

        return OPENAI_MEAN, OPENAI_STD

    def prepare(self, image: Image.Image) -> np.ndarray:
        """CPU preprocessing of one RGB image; thread-safe, runs in the decode workers."""
        if self._preprocess is None:
            with self._lock:
                if self._preprocess is None:
                    self.load()
                    self._preprocess = self._make_preprocess()
        return self._preprocess(image)

    def encode_prepared(self, batch: list[np.ndarray]) -> np.ndarray:
        if not batch:
            return np.zeros((0, self.dim), np.float32)
        return self.encode_batch(np.stack(batch).astype(np.float32, copy=False))

    def encode_batch(self, x: Any) -> np.ndarray:
        """A prepared batch (N, 3, S, S): a float32 array, or a tensor where the GPU path made the inputs, which
        a PyTorch tower takes where it lies (no round trip through the host)."""
        return l2_normalise(self._tower(Tower.IMAGE)(x))

    def capture(self, n: int) -> None:
        """Batches of n pictures through the image tower from a CUDA graph (a PyTorch tower on CUDA; nothing
        otherwise): the GPU path's, see TorchTower.capture."""
        tower = self._tower(Tower.IMAGE)
        if isinstance(tower, TorchTower):
            tower.capture(n, self.input_size)

    def encode_text(self, texts: list[str]) -> np.ndarray:
        if not self.has_text:
            self._tokenize(texts)  # raises with the reason
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalise(self._tower(Tower.TEXT)(self._tokenize(texts)))

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        return self.encode_prepared([self.prepare(im) for im in images])


class TorchTower:
    """A PyTorch tower: numpy in, float32 numpy out, fp16 on CUDA; on CUDA, batches replayed from a CUDA graph
    once capture() made one."""

    def __init__(self, module: Any, device: str) -> None:
        import torch

        self._torch = torch
        self._dtype = torch.float16 if device == "cuda" else torch.float32
        self._device = torch.device(device)
        self.module = module.eval().to(self._device, self._dtype)
        self._graph: _Graph | None = None

    def capture(self, n: int, size: int) -> None:
        """A CUDA graph of the tower on batches of n (3, size, size) pictures (on CUDA only; nothing elsewhere).
        A batch of the GPU path's then costs the GIL a few calls, not one a kernel: beside the pipeline's other
        threads each of those waits for the GIL (BENCHMARKS.md). Batches of more than half of n replay it
        padded; others, and queries, run as they are."""
        if self._device.type == "cuda" and (self._graph is None or self._graph.n != n):
            self._graph = _Graph(self.module, self._torch.zeros((n, 3, size, size), dtype=self._dtype, device="cuda"))

    def __call__(self, x: Any) -> np.ndarray:
        torch = self._torch
        t = (x if isinstance(x, torch.Tensor) else torch.from_numpy(x)).to(self._device, non_blocking=True)
        if t.is_floating_point():
            t = t.to(self._dtype)
        with torch.inference_mode():
            if (g := self._graph) is not None and g.fits(t):
                return g(t)
            return self.module(t).float().cpu().numpy()


class _Graph:
    """A module captured once as a CUDA graph on a static input batch: a call copies its batch in (padded with
    whatever the last one left) and replays; one call at a time."""

    def __init__(self, module: Any, static: Any) -> None:
        import torch

        self.n, self._x = int(static.shape[0]), static
        self._lock = threading.Lock()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(2):  # the warm-up the capture needs (cuBLAS handles, autotuning) off the graph
                module(static)
        torch.cuda.current_stream().wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        # thread_local: the other threads' CUDA calls (the decoder's) go on while this one captures
        with torch.cuda.graph(self._graph, capture_error_mode="thread_local"), torch.inference_mode():
            self._y = module(static)

    def fits(self, t: Any) -> bool:
        return (
            t.is_cuda
            and t.dtype == self._x.dtype
            and t.shape[1:] == self._x.shape[1:]
            and self.n / 2 < len(t) <= self.n
        )

    def __call__(self, t: Any) -> np.ndarray:
        with self._lock:
            self._x[: len(t)].copy_(t)
            self._graph.replay()
            return self._y[: len(t)].float().cpu().numpy()


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


__all__ = ["Encoder", "Identity", "OvTower", "TorchTower", "l2_normalise"]
