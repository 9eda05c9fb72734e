"""Text search and find-similar over the content index. Results are deterministic: score, then id."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexing.catalog import Catalog, ImageRow
from indexing.vectors import VectorIndex
from models.base import Encoder

MAX_K = 1000


class QueryError(ValueError):
    """A query the user has to fix; the message says how."""


@dataclass(frozen=True)
class Hit:
    image: ImageRow
    score: float


def check_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be between 1 and {MAX_K}, got {k}")
    return k


class Searcher:
    def __init__(self, catalog: Catalog, index: VectorIndex, encoder: Encoder) -> None:
        self.catalog = catalog
        self.index = index
        self.encoder = encoder

    def _hits(self, query: np.ndarray, k: int, exclude: int | None = None) -> list[Hit]:
        # ask for a few more so that ties at the cut and the excluded source can be ordered by id
        scores, ids = self.index.search(query, k + 8)
        pairs = [(float(s), int(i)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0 and i != exclude]
        pairs.sort(key=lambda p: (-round(p[0], 6), p[1]))
        pairs = pairs[:k]
        rows = self.catalog.get_many(i for _, i in pairs)
        return [Hit(rows[i], s) for s, i in pairs if i in rows]

    def search_text(self, text: str, k: int = 50) -> list[Hit]:
        text = (text or "").strip()
        if not text:
            raise QueryError("the query is empty: type what you are looking for")
        if len(text) > 1000:
            raise QueryError("the query is too long (1000 characters at most)")
        check_k(k)
        if self.index.ntotal == 0:
            return []
        return self._hits(self.encoder.encode_text([text]), k)

    def similar_to_id(self, image_id: int, k: int = 50) -> list[Hit]:
        check_k(k)
        row = self.catalog.get(image_id)
        if row is None:
            raise LookupError(f"no image with id {image_id}")
        vec = self.index.reconstruct(image_id)
        if vec is None:
            raise LookupError(f"image {image_id} has no content vector ({row.status}: {row.error or 'not indexed'})")
        return self._hits(vec[None, :], k, exclude=image_id)

    def similar_to_vector(self, vec: np.ndarray, k: int = 50) -> list[Hit]:
        check_k(k)
        return self._hits(np.atleast_2d(vec), k)
