"""What several test files share: a spying encoder, and indexing a folder to read back what a user sees.
Pictures themselves come from tests/imagegen.py (drawn, with EXIF and GPS) and tests/realfiles.py (made by the
real tools)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models.base import Encoder
from services import StyleSeek
from settings import Settings


class Spy:
    """Delegates to the real tiny encoder; counts what it embeds and can crash on a chosen batch."""

    def __init__(self, inner: Encoder, crash_on_batch: int | None = None) -> None:
        self.inner = inner
        self.embedded = 0
        self.batches = 0
        self.crash_on_batch = crash_on_batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_prepared(self, batch: list[Any]) -> np.ndarray:
        self.batches += 1
        if self.crash_on_batch is not None and self.batches == self.crash_on_batch:
            raise RuntimeError("simulated crash mid-run")
        self.embedded += len(batch)
        return self.inner.encode_prepared(batch)


def index(settings: Settings, shared_encoder, folder: Path) -> tuple[StyleSeek, dict]:  # noqa: ANN001
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    report = svc.index_folders([folder]).to_dict()
    return svc, report


def record(svc: StyleSeek, path: Path) -> dict:
    from search.records import image_record

    row = svc.catalog.get_by_path(str(path))
    assert row is not None, f"{path.name} was not indexed"
    return image_record(row, svc.thumbs)


def thumb(svc: StyleSeek, rec: dict) -> Image.Image:
    return Image.open(rec["thumbnail"]).convert("RGB")
