"""Approximate search for large collections (issue 14). Above a threshold of vectors a space's FAISS index
becomes an inverted file (IVF: the vectors grouped around k-means centroids trained on the collection's own
vectors) holding 8-bit scalar-quantised codes, one byte a dimension; the 2,816-d texture descriptor is first
projected to 256 dimensions by a PCA fitted on the same vectors. A search visits `nprobe` of the groups.

The index only proposes candidates: VectorIndex re-reads every candidate's vector from SQLite (the truth), so
the scores and each term's contribution that a search shows are exact. Sizes and recall: BENCHMARKS.md.
"""

from __future__ import annotations

import logging
import math
import time

import faiss
import numpy as np

log = logging.getLogger(__name__)

PCA_ABOVE = 1024  # descriptors wider than this are projected first (texture: 2,816 -> 256)
PCA_DIM = 256
TRAIN_PER_LIST = 40  # k-means training points per list (FAISS warns below 39)
DIRECT_MAP_ENTRY = 40  # measured: 39 B an entry of the id -> code hash map at 1M


def nlist_for(n: int) -> int:
    """Lists for n vectors: about sqrt(n), a power of two (1M -> 1,024, a list holds about a thousand): on two
    cores k-means over 4·sqrt(n) lists took half an hour at 1M, and a search visits nprobe lists either way."""
    return int(min(16_384, max(16, 2 ** round(math.log2(math.sqrt(max(n, 1)))))))


def factory(dim: int, n: int) -> str:
    pre = f"PCA{PCA_DIM}," if dim > PCA_ABOVE and n > PCA_DIM else ""
    nlist = max(1, min(nlist_for(n), n // TRAIN_PER_LIST))  # a small collection (tests) gets fewer lists
    return f"{pre}IVF{nlist},SQ8"


def trained(dim: int, n: int, sample: np.ndarray, nprobe: int) -> faiss.Index:
    """An empty IVF-SQ8 index for n vectors, trained on a sample of them (float32, unit length)."""
    t0 = time.monotonic()
    spec = factory(dim, n)
    index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    set_nprobe(index, nprobe)
    with_direct_map(index)
    log.info("trained %s on %d vectors in %.1f s", spec, len(sample), time.monotonic() - t0)
    return index


def training_rows(dim: int, n: int, seed: int = 1234) -> np.ndarray:
    """Which of n vectors (sorted positions) the k-means sees: enough for each list, the same ones every time."""
    take = min(n, TRAIN_PER_LIST * faiss.extract_index_ivf(faiss.index_factory(dim, factory(dim, n))).nlist)
    return np.sort(np.random.default_rng(seed).choice(n, take, replace=False)) if take < n else np.arange(n)


def build(dim: int, ids: np.ndarray, vectors: np.ndarray, nprobe: int) -> faiss.Index:
    """An IVF-SQ8 index of these vectors (in memory already: an exact index that grew past the threshold)."""
    index = trained(dim, len(ids), vectors[training_rows(dim, len(ids))], nprobe)
    for i in range(0, len(ids), 100_000):
        index.add_with_ids(np.ascontiguousarray(vectors[i : i + 100_000], np.float32), ids[i : i + 100_000])
    return index


def is_ann(index: faiss.Index) -> bool:
    try:
        faiss.extract_index_ivf(index)
    except RuntimeError:
        return False
    return True


def set_nprobe(index: faiss.Index, nprobe: int) -> None:
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = max(1, min(int(nprobe), ivf.nlist))


def with_direct_map(index: faiss.Index) -> faiss.Index:
    """An id -> code map (a hash table, saved with the index): candidates' vectors decoded from the codes in
    memory rank thousands of candidates without reading SQLite; only what is shown is re-read exactly."""
    ivf = faiss.extract_index_ivf(index)
    if ivf.direct_map.type != faiss.DirectMap.Hashtable:
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    return index


def selector(ids: np.ndarray, approximate: bool) -> faiss.IDSelector:
    """What remove_ids takes: the direct map's hash table removes only an array of ids; a flat index's
    IDMap checks each of its ids against the set, which an array would make linear."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    return faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)) if approximate else faiss.IDSelectorBatch(ids)


def lists_for(index: faiss.Index, n: int) -> int:
    """About how many lists hold n vectors (the lists are about equal in size)."""
    ivf = faiss.extract_index_ivf(index)
    return math.ceil(n * ivf.nlist / max(1, index.ntotal))


def ids_of(index: faiss.Index) -> np.ndarray:
    """Every id an IVF index holds, sorted."""
    ivf = faiss.extract_index_ivf(index)
    inv = ivf.invlists
    parts = [faiss.rev_swig_ptr(inv.get_ids(i), inv.list_size(i)).copy() for i in range(ivf.nlist) if inv.list_size(i)]
    return np.sort(np.concatenate(parts).astype(np.int64)) if parts else np.zeros(0, np.int64)


def bytes_per_vector(index: faiss.Index) -> int:
    """Resident bytes a vector costs in this index: its code, its id, and its entry in the id -> code hash
    map (RSS grew 39 bytes an entry at 1M)."""
    return int(faiss.extract_index_ivf(index).code_size) + 8 + DIRECT_MAP_ENTRY
