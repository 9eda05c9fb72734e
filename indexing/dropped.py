"""Pictures dropped, pasted or picked on the page to search by (`like: @3f9a…`): their vectors per space, the
last few in memory and up to KEEP in the catalog, so that a link or a bookmark naming one still works after the
app restarts. Only the vectors are kept, never the picture; each with the fingerprint of the model that made
it, and a vector another model made is not found (the picture must be dropped again).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from indexing.catalog import STORED, Catalog, as_stored, vector_blob, vectors_from_blobs

MEMORY = 32  # held in memory, the least recently used forgotten first
KEEP = 1000  # kept in the catalog (about 5 KB each), likewise


class DroppedPictures:
    def __init__(self, catalog: Catalog, fingerprint: Callable[[str], str], memory: int = MEMORY, keep: int = KEEP):
        """fingerprint: a space's model fingerprint now (what a kept vector must have been made by)."""
        self._catalog, self._fingerprint, self._memory, self._keep = catalog, fingerprint, memory, keep
        self._recent: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> dict[str, np.ndarray] | None:
        """The vectors of the picture with this content hash (whole), from memory or the catalog."""
        return self.find(digest, exact=True)

    def put(self, digest: str, vectors: dict[str, np.ndarray]) -> None:
        """Keep a picture's vectors (float32, unit length) under its content hash."""
        self._remember(digest, {s: as_stored(v[None])[0] for s, v in vectors.items()})
        now = time.time()
        with self._catalog.transaction() as t:
            t.executemany(
                "INSERT OR REPLACE INTO dropped(digest, space, fingerprint, vector, used_at) VALUES (?,?,?,?,?)",
                [(digest, s, self._fingerprint(s), vector_blob(v), now) for s, v in vectors.items()],
            )
            t.execute(  # the least recently used beyond KEEP go
                "DELETE FROM dropped WHERE digest IN (SELECT digest FROM dropped GROUP BY digest"
                " ORDER BY MAX(used_at) DESC LIMIT -1 OFFSET ?)",
                (self._keep,),
            )

    def find(self, prefix: str, exact: bool = False) -> dict[str, np.ndarray] | None:
        """The vectors of the picture whose content hash starts with `prefix` (a query's '@3f9a…'), or None."""
        with self._lock:
            for digest, vecs in reversed(self._recent.items()):
                if digest == prefix or (not exact and digest.startswith(prefix)):
                    self._recent.move_to_end(digest)
                    return vecs
        # the prefix is hex (services.PICTURE_REF_HEX): no LIKE wildcard in it
        where, arg = ("digest = ?", prefix) if exact else ("digest LIKE ?", prefix + "%")
        rows = self._catalog.conn.execute(
            f"SELECT digest, space, fingerprint, vector FROM dropped WHERE {where} ORDER BY used_at DESC", (arg,)
        ).fetchall()
        if not rows:
            return None
        digest = rows[0][0]
        vecs = {}
        for _, space, fingerprint, blob in (r for r in rows if r[0] == digest):
            if fingerprint != self._fingerprint(space):
                return None  # made by another model than the one loaded now
            vecs[space] = vectors_from_blobs([blob], len(blob) // STORED.itemsize)[0]
        self._remember(digest, vecs)
        with self._catalog.transaction() as t:
            t.execute("UPDATE dropped SET used_at=? WHERE digest=?", (time.time(), digest))
        return vecs

    def clear(self) -> None:
        """Forget every dropped picture (memory and catalog)."""
        with self._lock:
            self._recent.clear()
        with self._catalog.transaction() as t:
            t.execute("DELETE FROM dropped")

    def _remember(self, digest: str, vecs: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._recent[digest] = vecs
            self._recent.move_to_end(digest)
            while len(self._recent) > self._memory:
                self._recent.popitem(last=False)


__all__ = ["KEEP", "MEMORY", "DroppedPictures"]
