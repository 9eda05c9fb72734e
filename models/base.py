"""Encoder base: lazy load under a lock (never at import), L2-normalised float32 numpy out."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from PIL import Image

from models.specs import ModelSpec
from settings import Settings


class Encoder(ABC):
    spec: ModelSpec

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._loaded = False

    def load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def device(self) -> str:
        """ "cuda" or "cpu": where the model runs (subclasses set self._device when they load)."""
        self.load()
        return self._device.type

    @abstractmethod
    def _load(self) -> None:
        """Load the weights; set _device, _dim, _size, _fingerprint, _random and _preprocess."""

    # what every encoder knows once loaded ----------------------------------------------------------------
    @property
    def dim(self) -> int:
        self.load()
        return self._dim

    @property
    def fingerprint(self) -> str:
        """Identifies the weights (and input settings): an index refuses vectors from another model."""
        self.load()
        return self._fingerprint

    @property
    def input_size(self) -> int:
        """Side of the square the model sees; decoders may downscale to it."""
        self.load()
        return self._size

    @property
    def random_weights(self) -> bool:
        """Written by `styleseek models tiny` or the benchmark: not a real model."""
        self.load()
        return self._random

    def prepare(self, image: Image.Image) -> Any:
        """CPU preprocessing of one RGB image; thread-safe, runs in the decode workers."""
        self.load()
        return self._preprocess(image)

    @abstractmethod
    def encode_prepared(self, batch: list[Any]) -> np.ndarray: ...

    @abstractmethod
    def encode_text(self, texts: list[str]) -> np.ndarray: ...

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        self.load()
        return self.encode_prepared([self.prepare(im) for im in images])


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)
