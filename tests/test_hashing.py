"""The catalog's content hash: xxh3-128 for a new catalog, BLAKE2b-128 kept by one made before (its rows'), each
checked against the hash libraries themselves; moves are still found by it, and shards must match it."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import xxhash

from indexing import hashing
from indexing.catalog import Catalog
from indexing.hashing import HashKind
from indexing.shards import import_shards
from models.base import Encoder
from services import StyleSeek
from settings import Settings
from tests.helpers import Spy
from tests.imagegen import make_collection


def _hashes(svc: StyleSeek) -> dict[str, str]:
    return dict(svc.catalog.conn.execute("SELECT path, hash FROM images").fetchall())


def test_a_new_catalog_hashes_with_xxh3(tmp_path: Path, settings: Settings, shared_encoder: Encoder) -> None:
    files = make_collection(tmp_path / "lib", 4)
    svc = StyleSeek(settings, content_encoder=shared_encoder)
    assert svc.catalog.hash_kind is HashKind.XXH3
    assert svc.index_folders([tmp_path / "lib"]).indexed == 4
    assert _hashes(svc) == {str(p): xxhash.xxh3_128_hexdigest(p.read_bytes()) for p in files}
    for h in _hashes(svc).values():
        assert svc.thumbs.read(h) is not None


def test_a_catalog_from_before_keeps_blake2b(
    tmp_path: Path, settings: Settings, shared_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalog with pictures from before migration 11 (rows hashed with BLAKE2b) keeps BLAKE2b: nothing is
    embedded again, a moved file keeps its id and a changed one gets a BLAKE2b hash."""
    lib = tmp_path / "lib"
    files = make_collection(lib, 4)
    with monkeypatch.context() as m:
        m.setattr(hashing, "NEW_CATALOGS", HashKind.BLAKE2B)
        StyleSeek(settings, content_encoder=shared_encoder).index_folders([lib])
    db = settings.db_path
    with sqlite3.connect(db) as c:  # as the catalog was before migration 11
        c.execute("DROP TABLE facts")
        c.execute("PRAGMA user_version=10")
    spy = Spy(shared_encoder)
    svc = StyleSeek(settings, content_encoder=spy)
    assert svc.catalog.hash_kind is HashKind.BLAKE2B
    old_id = svc.catalog.get_by_path(str(files[0])).id
    shutil.move(files[0], moved := lib / "moved.jpg")
    shutil.copy(files[2], files[1])  # changed bytes
    r = svc.index_folders([lib])
    assert (r.moved, r.indexed, r.unchanged, spy.embedded) == (1, 1, 2, 1)
    assert svc.catalog.get_by_path(str(moved)).id == old_id
    now = [moved, *files[1:]]
    blake = {str(p): hashlib.blake2b(p.read_bytes(), digest_size=16).hexdigest() for p in now}
    assert _hashes(svc) == blake


def test_an_empty_catalog_from_before_takes_xxh3(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    Catalog(db)
    with sqlite3.connect(db) as c:
        c.execute("DROP TABLE facts")
        c.execute("PRAGMA user_version=10")
    assert Catalog(db).hash_kind is HashKind.XXH3
    with sqlite3.connect(db) as c:
        c.execute("UPDATE facts SET value = 'md5' WHERE name = 'hash'")
    with pytest.raises(RuntimeError, match="'md5' is unknown"):
        Catalog(db)


def test_shards_hashed_otherwise_are_refused(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.db")
    shards = tmp_path / "shards"
    shards.mkdir()
    manifest = {"version": 1, "files": 0, "spaces": {}}  # written before the hash was named: BLAKE2b
    (shards / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="hashed with blake2b-128, this catalog's pictures with xxh3-128"):
        import_shards(catalog, None, shards)  # type: ignore[arg-type]
    (shards / "manifest.json").write_text(json.dumps({**manifest, "hash": "xxh3-128"}))
    assert import_shards(catalog, None, shards)["indexed"] == 0  # type: ignore[arg-type]
