"""Parquet shards of embedded pictures, for collections past one machine (issue 14): what a cluster's workers
write (`styleseek index --ray`, indexing/cluster.py) and `styleseek import` reads into the catalog.

A worker does for a batch of files what the single-machine pipeline does for each (read and hash, decode,
thumbnail, metadata, every encoder's input) and runs the encoders once a batch, so its vectors are the
pipeline's. A shard row: the file (root, path, size, mtime, companions, sidecars, extra_sig), its content hash,
status and error, its catalog columns (JSON), its thumbnail, and one float32 vector column a space. The
folder's manifest.json names each space's dimension and model fingerprint: an import refuses other models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from indexing.catalog import META_VERSION, Catalog
from indexing.hashing import HashKind
from indexing.imageio import ImageError, thumbnail_bytes
from indexing.scan import FileEntry
from indexing.thumbs import ThumbCache
from indexing.work import add_places, decode_for_index, failure, metadata_row, read_and_hash
from models.base import Encoder
from settings import Settings

MANIFEST = "manifest.json"
SHARD_VERSION = 1
FILE_FIELDS = ("root", "path", "size", "mtime", "companions", "sidecars", "extra_sig")


def file_item(root: str, e: FileEntry) -> dict[str, Any]:
    """One file as a dataset row (the list the driver hands to the workers)."""
    return {"root": root, "path": e.path, "size": e.size, "mtime": e.mtime, "companions": json.dumps(e.companions),
            "sidecars": json.dumps(e.sidecars), "extra_sig": e.extra_sig}  # fmt: skip


def _entry(item: dict[str, Any]) -> FileEntry:
    return FileEntry(item["path"], int(item["size"]), float(item["mtime"]), tuple(json.loads(item["companions"])),
                     tuple(json.loads(item["sidecars"])), item["extra_sig"])  # fmt: skip


def schema(spaces: list[str]) -> Any:
    import pyarrow as pa

    fields = [("root", pa.string()), ("path", pa.string()), ("size", pa.int64()), ("mtime", pa.float64()),
              ("companions", pa.string()), ("sidecars", pa.string()), ("extra_sig", pa.string()),
              ("hash", pa.string()), ("status", pa.string()), ("error", pa.string()), ("row", pa.string()),
              ("thumb", pa.binary())]  # fmt: skip
    return pa.schema(fields + [(f"vec_{s}", pa.binary()) for s in spaces])


class Embedder:
    """The work of one worker (a Ray actor, or called in-process): loads the encoders once, then embeds
    batches of file rows into shard rows. A file that cannot be read or decoded becomes an error row."""

    def __init__(
        self, settings: Settings, make_encoders: Callable[[Settings], dict[str, Encoder]], kind: HashKind
    ) -> None:
        """kind: the content hash of the catalog the shards are for."""
        self.settings, self.kind = settings, kind
        self.encoders = make_encoders(settings)
        for enc in self.encoders.values():
            enc.load()
        self.min_side = max(enc.input_size for enc in self.encoders.values())

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        items = batch.to_pylist() if hasattr(batch, "to_pylist") else batch
        rows: list[dict[str, Any]] = []
        prepared: dict[str, list[np.ndarray]] = {s: [] for s in self.encoders}
        for item in items:
            row = {k: item[k] for k in FILE_FIELDS} | {"hash": None, "status": "error", "error": None, "row": None,
                                                       "thumb": None}  # fmt: skip
            rows.append(row)
            try:
                data, row["hash"], size = read_and_hash(item["path"], self.kind)
                if size == 0:
                    raise ImageError("empty file (0 bytes)")
                dec = decode_for_index(data if data is not None else item["path"], item["path"], self.settings,
                                       self.min_side)  # fmt: skip
                inputs = {s: enc.prepare(dec.image) for s, enc in self.encoders.items()}
                row["thumb"] = thumbnail_bytes(dec.image, self.settings.thumbnail_size)
                row["row"] = json.dumps(metadata_row(dec, _entry(item)))
            except Exception as err:  # noqa: BLE001 - one odd file must never stop a run
                row["error"] = failure(err, item["path"])
                continue
            row["status"] = "indexed"
            for s, x in inputs.items():
                prepared[s].append(x)
        ok = [r for r in rows if r["status"] == "indexed"]
        for s, enc in self.encoders.items():
            vecs = enc.encode_prepared(prepared[s]) if ok else np.zeros((0, enc.dim), np.float32)
            for r in rows:
                r[f"vec_{s}"] = None
            for r, v in zip(ok, vecs, strict=True):
                r[f"vec_{s}"] = np.asarray(v, np.float32).tobytes()
        return pa.Table.from_pylist(rows, schema=schema(list(self.encoders)))


def write_manifest(folder: Path, encoders: dict[str, Encoder], files: int, kind: HashKind) -> None:
    spaces = {s: {"dim": e.dim, "fingerprint": e.fingerprint} for s, e in encoders.items()}
    manifest = {"version": SHARD_VERSION, "files": files, "spaces": spaces, "hash": kind.value}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no {MANIFEST}: not a folder `styleseek index --ray` wrote")
    manifest = json.loads(path.read_text())
    if manifest.get("version") != SHARD_VERSION:
        raise ValueError(f"{path}: shard version {manifest.get('version')}, this StyleSeek reads {SHARD_VERSION}")
    return manifest


def shard_batches(folder: Path, rows: int = 1024) -> Iterator[list[dict[str, Any]]]:
    import pyarrow.parquet as pq

    for path in sorted(Path(folder).rglob("*.parquet")):
        for b in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield b.to_pylist()


def import_shards(catalog: Catalog, thumbs: ThumbCache, folder: Path) -> dict[str, int]:
    """Shard rows into the catalog, a transaction a batch (an interrupted import resumes: a path already
    there with the same bytes is skipped, one with other bytes replaced). The FAISS indices follow SQLite
    on their next opening, as after any run."""
    manifest = read_manifest(folder)
    kind = manifest.get("hash", HashKind.BLAKE2B.value)  # (shards written before the hash was named: BLAKE2b)
    if kind != catalog.hash_kind.value:
        raise ValueError(
            f"{folder}: its files were hashed with {kind}, this catalog's pictures with {catalog.hash_kind.value}:"
            " run `styleseek index --ray` again with this catalog's data folder"
        )
    spaces = manifest["spaces"]
    for s, info in spaces.items():
        catalog.check_space(s, int(info["dim"]), info["fingerprint"])
    counts = {"indexed": 0, "failed": 0, "unchanged": 0, "replaced": 0}
    folders: dict[str, int] = {}
    for batch in shard_batches(folder):
        for r in batch:
            if r["root"] not in folders:
                folders[r["root"]] = catalog.add_folder(r["root"])
        add_places(rows := [json.loads(r["row"]) if r["row"] else {} for r in batch])
        with catalog.transaction() as t:
            for r, meta in zip(batch, rows, strict=True):
                old = catalog.get_by_path(r["path"])
                if old is not None and old.hash == r["hash"] and old.status == r["status"]:
                    counts["unchanged"] += 1
                    continue
                if old is not None:
                    Catalog.delete_images(t, [old.id])
                    counts["replaced"] += 1
                base = {"folder_id": folders[r["root"]], "path": r["path"], "size": r["size"], "mtime": r["mtime"],
                        "hash": r["hash"], "status": r["status"]}  # fmt: skip
                if r["status"] != "indexed":
                    Catalog.insert_image(t, {**base, "error": r["error"], "meta_version": META_VERSION})
                    counts["failed"] += 1
                    continue
                image_id = Catalog.insert_image(t, {**base, **meta})
                for s, info in spaces.items():
                    if r.get(f"vec_{s}") is not None:
                        vec = np.frombuffer(r[f"vec_{s}"], np.float32)
                        assert len(vec) == int(info["dim"]), f"{r['path']}: a {s} vector of {len(vec)} values"
                        Catalog.add_vector(t, image_id, s, vec)
                counts["indexed"] += 1
        for r in batch:  # thumbnails after the commit: a crash leaves at most a few to redraw
            if r["thumb"] is not None and not thumbs.read(r["hash"]):
                thumbs.write(r["hash"], r["thumb"])
    return counts
