"""Which images a query scores exactly: the candidates, found by Fagin's threshold algorithm over the spaces.

A query's score is linear in each space's vector: score(x) = Σ_s Q_s·x_s / norm with Q_s = Σ_{p in s} w_p·q_p
(negative parts included). So one search of Q_s lists the images in order of space s's whole share, and an
image in none of the lists' top D scores at most Σ_s (the D-th share of s): when the k-th best candidate
scores at least that, no unseen image can beat it and the top k is exact; otherwise the lists go deeper.
The union of each term's own top hits, as before, found 87% of a 5-term query's exact top 50 at 300k (and 70%
on the random models' vectors): BENCHMARKS.md. An image that lacks a space's vector (not yet indexed by that
model) is not bounded by that list; location terms rank among the vector candidates and the area's pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

GROWTH = 4  # each deeper round asks for 4x as many
MAX_ROUNDS = 3  # depth at most 16x the first (3,200 for a page of 50): a bound on the worst query's cost


class Searchable(Protocol):
    ntotal: int

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


class VectorPart(Protocol):
    space: str
    weight: float
    vector: np.ndarray | None
    area: object


class Lists:
    """The spaces' combined queries, searched ever deeper; `bound` is the most an unseen image can score."""

    def __init__(self, parts: Sequence[VectorPart], index_for: Callable[[str], Searchable], norm: float) -> None:
        self.norm = norm
        self.queries: dict[str, np.ndarray] = {}
        for p in parts:
            if p.area is None and p.vector is not None:
                q = self.queries.setdefault(p.space, np.zeros(len(p.vector), np.float32))
                q += np.float32(p.weight) * p.vector.astype(np.float32)
        self.index_for = index_for
        self.bound = -np.inf
        self.exhausted = True

    def top(self, depth: int) -> set[int]:
        """The ids of each space's top `depth` by its whole share; sets `bound` and `exhausted`."""
        ids: set[int] = set()
        self.bound, self.exhausted = 0.0, True
        for space, q in self.queries.items():
            index = self.index_for(space)
            scores, found = index.search(q[None, :], depth)
            got = found[0][found[0] >= 0]
            ids.update(int(i) for i in got)
            if 0 < len(got) < index.ntotal:  # more lie below: the last share listed bounds theirs
                self.bound += float(scores[0][len(got) - 1]) / self.norm
                self.exhausted = False
        if self.exhausted:
            self.bound = -np.inf
        return ids

    def done(self, kth_best: float | None) -> bool:
        """Whether the k-th best candidate's score (None: fewer than k) settles the top k."""
        if self.exhausted or not self.queries:
            return True
        return kth_best is not None and kth_best >= self.bound - 1e-6
