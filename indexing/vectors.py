"""One FAISS IndexIDMap2(IndexFlatIP) per space, persisted atomically and reconciled against SQLite."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import faiss
import numpy as np

from basics import replacing
from indexing.catalog import Catalog

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
    def __init__(self, path: Path, space: str, dim: int) -> None:
        self.path = Path(path)
        self.space = space
        self.dim = dim
        self._lock = threading.RLock()
        self._index = self._empty()
        self._ids_cache: np.ndarray | None = None
        self.dirty = False

    def _empty(self) -> faiss.IndexIDMap2:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    # persistence --------------------------------------------------------------------------------
    def load_and_reconcile(self, catalog: Catalog) -> dict[str, int]:
        """Load the file if it is sound, then add what SQLite has and it lacks, drop what SQLite lost."""
        stats = {"loaded": 0, "added": 0, "removed": 0}
        with self._lock:
            if self.path.exists():
                try:
                    idx = faiss.read_index(str(self.path))
                    if idx.d != self.dim or not isinstance(idx, faiss.IndexIDMap2):
                        raise ValueError(f"dim {idx.d} != {self.dim} or wrong index type")
                    self._index = idx
                    stats["loaded"] = idx.ntotal
                except Exception as e:  # noqa: BLE001 - a bad derived file is rebuilt, never fatal
                    log.warning("rebuilding %s from SQLite: %s", self.path, e)
                    self._index = self._empty()
            have = self.ids()
            want = catalog.vector_ids(self.space)
            extra = np.setdiff1d(have, want, assume_unique=True)
            missing = np.setdiff1d(want, have, assume_unique=True)
            if len(extra):
                self._index.remove_ids(faiss.IDSelectorBatch(extra))
                stats["removed"] = len(extra)
            for i in range(0, len(missing), 50_000):
                ids, vecs = catalog.load_vectors(self.space, missing[i : i + 50_000], self.dim)
                self._index.add_with_ids(vecs, ids)
                stats["added"] += len(ids)
            self._ids_cache = None
            self.dirty = bool(len(extra) or len(missing))
        if self.dirty:
            log.info("reconciled %s: %s", self.space, stats)
            self.save()
        return stats

    def save(self) -> None:
        """temp + fsync + rename: a crash leaves the previous file whole."""
        with self._lock, replacing(self.path) as tmp:
            faiss.write_index(self._index, str(tmp))
        self.dirty = False

    # edits --------------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), np.asarray(ids, dtype=np.int64))
            self._ids_cache = None
            self.dirty = True

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
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
            scores, ids = self._index.search(q, k)
        return scores, ids

    def reconstruct(self, image_id: int) -> np.ndarray | None:
        with self._lock:
            try:
                return self._index.reconstruct(int(image_id))
            except (RuntimeError, KeyError):
                return None

    def _sorted_ids(self) -> np.ndarray:
        # cached until the next edit: membership tests for thousands of candidates stay cheap
        if self._ids_cache is None:
            self._ids_cache = np.sort(faiss.vector_to_array(self._index.id_map).astype(np.int64))
        return self._ids_cache

    def reconstruct_many(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, present) for the ids, in one FAISS call; a missing id gets a zero row and present False."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.zeros((len(ids), self.dim), np.float32)
        with self._lock:
            known = self._sorted_ids()
            pos = np.searchsorted(known, ids)
            have = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == ids) if len(known) else pos < 0
            if have.any():
                out[have] = self._index.reconstruct_batch(ids[have])
        return out, have
