"""One FAISS index per space, persisted atomically and reconciled against SQLite: exact (IndexIDMap2 over
IndexFlatIP) up to `ann_threshold` vectors, above it approximate (indexing/ann.py: IVF with 8-bit codes), whose
candidates are ranked from the codes and whose shown pictures are re-read from SQLite, so the scores a search
shows are exact either way. A start compares the file with SQLite by the space's generation counter (one row),
and reads ids only when they differ."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import faiss
import numpy as np

from basics import replacing, write_atomic
from indexing import ann
from indexing.catalog import Catalog, as_stored

log = logging.getLogger(__name__)

# batched queries go through BLAS only above this many; 1 makes multi-query searches ~5x faster
faiss.cvar.distance_compute_blas_threshold = 1


def set_search_threads(n: int) -> int:
    """Threads for FAISS and the OpenBLAS it brings (0 picks min(4, cores)). At full width on a 16-core
    machine their pools made a 5-term search 10x slower than with 4 (BENCHMARKS.md). torch's MKL is left
    alone: only OpenBLAS and FAISS's OpenMP are limited."""
    from threadpoolctl import ThreadpoolController

    n = n or max(1, min(4, os.cpu_count() or 1))
    faiss.omp_set_num_threads(n)
    ThreadpoolController().select(internal_api="openblas").limit(limits=n)
    return n


class VectorIndex:
    def __init__(self, path: Path, space: str, dim: int, ann_threshold: int = 0, nprobe: int = 32) -> None:
        """ann_threshold: above this many vectors the index becomes approximate (0: never); nprobe: the lists
        an approximate search visits."""
        self.path = Path(path)
        self.space = space
        self.dim = dim
        self.ann_threshold = ann_threshold
        self.nprobe = nprobe
        self._lock = threading.RLock()
        self._index = self._empty()
        self._ids_cache: np.ndarray | None = None
        self._catalog: Catalog | None = None  # where an approximate index's candidates are read exactly
        self.dirty = False

    def _empty(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def approximate(self) -> bool:
        return not isinstance(self._index, faiss.IndexIDMap2)

    @property
    def _stamp_path(self) -> Path:
        return self.path.with_suffix(".json")

    def ids(self) -> np.ndarray:
        with self._lock:
            if self.approximate:
                return ann.ids_of(self._index)
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def resident_bytes(self) -> int:
        """What the index holds in memory: float32 vectors and ids (exact), or codes and ids (approximate)."""
        per = ann.bytes_per_vector(self._index) if self.approximate else 4 * self.dim + 8
        return per * self.ntotal

    # persistence --------------------------------------------------------------------------------
    def load_and_reconcile(self, catalog: Catalog) -> dict[str, int]:
        """Load the file if it is sound; unless its stamp says it holds what SQLite holds, add what SQLite has
        and it lacks and drop what SQLite lost; then become approximate if it has grown past the threshold."""
        stats = {"loaded": 0, "added": 0, "removed": 0}
        self._catalog = catalog
        with self._lock:
            stamp = None
            if self.path.exists():
                try:
                    idx = faiss.read_index(str(self.path))
                    if idx.d != self.dim or not (isinstance(idx, faiss.IndexIDMap2) or ann.is_ann(idx)):
                        raise ValueError(f"dim {idx.d} != {self.dim} or wrong index type")
                    self._index = idx
                    stats["loaded"] = idx.ntotal
                    stamp = json.loads(self._stamp_path.read_text()) if self._stamp_path.exists() else None
                except Exception as e:  # noqa: BLE001 - a bad derived file is rebuilt, never fatal
                    log.warning("rebuilding %s from SQLite: %s", self.path, e)
                    self._index = self._empty()
            if self.approximate:
                ann.set_nprobe(ann.with_direct_map(self._index), self.nprobe)
            current = {"generation": catalog.space_generation(self.space), "ntotal": self.ntotal}
            if stamp != current:
                self._reconcile(catalog, stats)
            self._ids_cache = None
        if self._grown():
            self.save()
        elif self.dirty:
            log.info("reconciled %s: %s", self.space, stats)
            self.save()
        return stats

    def _reconcile(self, catalog: Catalog, stats: dict[str, int]) -> None:
        have = self.ids()
        want = catalog.vector_ids(self.space)
        if self.ann_threshold and len(have) == 0 and len(want) > self.ann_threshold:
            # no file (first open, or lost): train on a sample straight from SQLite, never holding every float
            sample = want[ann.training_rows(self.dim, len(want))]
            self._index = ann.trained(
                self.dim, len(want), catalog.load_vectors(self.space, sample, self.dim)[1], self.nprobe
            )
        extra = np.setdiff1d(have, want, assume_unique=True)
        missing = np.setdiff1d(want, have, assume_unique=True)
        if len(extra):
            self._index.remove_ids(ann.selector(extra, self.approximate))
            stats["removed"] = len(extra)
        step = max(1_000, (64 << 20) // (4 * self.dim))  # 64 MB of floats a read: texture 5,958 rows
        for i in range(0, len(missing), step):
            ids, vecs = catalog.load_vectors(self.space, missing[i : i + step], self.dim)
            self._index.add_with_ids(vecs, ids)
            stats["added"] += len(ids)
        self.dirty = bool(len(extra) or len(missing)) or not self._stamp_path.exists()

    def _grown(self) -> bool:
        return bool(self.ann_threshold) and not self.approximate and self.ntotal > self.ann_threshold

    def _become_approximate(self) -> None:
        """Past the threshold: train and fill the approximate index from the exact one's vectors, once."""
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = faiss.rev_swig_ptr(faiss.downcast_index(self._index.index).get_xb(), len(ids) * self.dim)
        self._index = ann.build(self.dim, ids, vectors.reshape(len(ids), self.dim), self.nprobe)
        self._ids_cache = None

    def save(self) -> None:
        """temp + fsync + rename: a crash leaves the previous file whole. The stamp beside it says which state
        of SQLite the file holds (written after it: a crash between the two only costs a reconcile)."""
        with self._lock:
            if self._grown():
                self._become_approximate()
            self._stamp_path.unlink(missing_ok=True)
            with replacing(self.path) as tmp:
                faiss.write_index(self._index, str(tmp))
            if self._catalog is not None:
                stamp = {"generation": self._catalog.space_generation(self.space), "ntotal": self.ntotal}
                write_atomic(self._stamp_path, json.dumps(stamp).encode())
        self.dirty = False

    # edits --------------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.add_with_ids(as_stored(vecs), np.asarray(ids, dtype=np.int64))  # as SQLite holds them
            self._ids_cache = None
            self.dirty = True

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            self._index.remove_ids(ann.selector(np.asarray(ids, dtype=np.int64), self.approximate))
            self._ids_cache = None
            self.dirty = True

    # queries ------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of shape (nq, k'); k' = min(k, ntotal); cosine on normalised vectors."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        with self._lock:
            k = min(k, self.ntotal)
            if k <= 0:
                return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
            if self.approximate:  # a deep search visits lists enough to hold twice what it asks for
                ann.set_nprobe(self._index, max(self.nprobe, ann.lists_for(self._index, 2 * k)))
            scores, ids = self._index.search(q, k)
        return scores, ids

    def reconstruct(self, image_id: int) -> np.ndarray | None:
        if self.approximate:
            vecs, have = self.reconstruct_many(np.array([image_id], np.int64))
            return vecs[0] if have[0] else None
        with self._lock:
            try:
                return self._index.reconstruct(int(image_id))
            except (RuntimeError, KeyError):
                return None

    def _sorted_ids(self) -> np.ndarray:
        # cached until the next edit: membership tests for thousands of candidates stay cheap
        if self._ids_cache is None:
            self._ids_cache = np.sort(self.ids())
        return self._ids_cache

    def reconstruct_many(self, ids: np.ndarray, exact: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, present) for the ids, in one call; a missing id gets a zero row and present False. An
        approximate index's exact vectors are read from SQLite; exact=False decodes its 8-bit codes instead
        (in memory, ~3 µs a vector: for ranking many candidates, whose shown few are then re-read)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.zeros((len(ids), self.dim), np.float32)
        if self.approximate and exact:
            assert self._catalog is not None, "an approximate index is loaded through load_and_reconcile"
            got, vecs = self._catalog.load_vectors(self.space, ids, self.dim)
            pos = {int(i): n for n, i in enumerate(ids)}
            rows = np.array([pos[int(i)] for i in got], np.int64)
            have = np.zeros(len(ids), bool)
            if len(rows):
                out[rows], have[rows] = vecs, True
            return out, have
        with self._lock:
            known = self._sorted_ids()
            pos = np.searchsorted(known, ids)
            have = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == ids) if len(known) else pos < 0
            if have.any():
                out[have] = self._index.reconstruct_batch(ids[have])
        return out, have
