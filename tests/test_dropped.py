"""Dropped pictures' vectors, kept so that a link naming one ('like: @3f9a…') works after a restart: found by
a hash's start, in memory or the catalog, the least recently used forgotten first, never one another model
made."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexing.catalog import Catalog
from indexing.dropped import DroppedPictures


def unit(*x: float) -> np.ndarray:
    v = np.asarray(x, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_dropped_pictures_are_kept_across_a_restart_by_the_models_that_made_them(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    models = {"content": "clip-a", "style": "vit-l-a"}
    store = DroppedPictures(catalog, models.__getitem__, memory=2, keep=3)
    for i in range(4):
        store.put(f"{i:04x}" + "ab" * 6, {"content": unit(1, i, 0), "style": unit(0, 1, i)})
    assert store.find("0003")["content"] @ unit(1, 3, 0) > 0.9999  # in memory, by the hash's start

    again = DroppedPictures(Catalog(tmp_path / "catalog.sqlite3"), models.__getitem__, memory=2, keep=3)
    got = again.find("0002ab")  # after a restart: from the catalog
    assert set(got) == {"content", "style"} and float(got["style"] @ unit(0, 1, 2)) > 0.9999
    assert np.allclose(got["content"], store.find("0002")["content"])  # as stored: the same in memory and on disk
    assert again.find("0000") is None  # beyond the 3 kept, the least recently used went first
    assert again.get("0001" + "ab" * 6) is not None and again.get("0001") is None  # get: the whole hash only
    assert again.find("ffff") is None

    models["style"] = "vit-l-b"  # another style model loaded: its vectors would not compare
    other = DroppedPictures(Catalog(tmp_path / "catalog.sqlite3"), models.__getitem__)
    assert other.find("0002") is None
    other.clear()
    assert DroppedPictures(catalog, {"content": "clip-a", "style": "vit-l-a"}.__getitem__).find("0003") is None
