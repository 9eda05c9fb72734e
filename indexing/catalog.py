"""SQLite catalog (WAL, versioned migrations): folders, images, EXIF, errors and the vectors themselves.

SQLite is the source of truth. An image id's vector never changes: a file whose bytes change gets a new
row (and id), a moved file keeps its row. That keeps the FAISS files reconcilable by id sets alone.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from basics import chunked
from indexing import hashing
from indexing.hashing import HashKind
from indexing.metadata import span_seconds
from indexing.rows import IMAGE_COLUMNS, FolderStats, ImageRow, Known  # noqa: F401 - the catalog's interface
from indexing.schema import META_VERSION, METADATA_COLUMNS, MIGRATIONS  # noqa: F401 - META_VERSION: the catalog's interface

# Vectors are stored as float16: half the bytes of float32 (with migration 9's table, the SQLite file of a million
# pictures 22.5 -> 10 GB, BENCHMARKS.md). Every encoder's vector is L2-normalised, and so is a stored one as read
# back (rounding moves its norm by ~1e-4): a picture's cosine with a query then stays within 5e-5 of float32's
# at the real sizes. Rows written as float32 before are read as they are.
STORED = np.dtype("<f2")
log = logging.getLogger(__name__)


def vector_blob(vec: np.ndarray) -> bytes:
    """The bytes a vector is stored as."""
    return np.ascontiguousarray(vec, dtype=STORED).tobytes()


def _stored_vector(blob: bytes, dim: int | None) -> bytes:
    """SQL stored_vector(blob, dim): a float32 blob of dim dimensions as stored now (migration 9), else as it is."""
    if dim and len(blob) == 4 * dim:
        return np.frombuffer(blob, dtype="<f4").astype(STORED).tobytes()
    return blob


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def as_stored(vecs: np.ndarray) -> np.ndarray:
    """float32 vectors as they are read back from SQLite: what the FAISS index is given too, so that an index
    rebuilt from SQLite is the one built while indexing, and the exact and approximate paths agree."""
    return _unit(np.asarray(vecs, dtype=STORED).astype(np.float32))


def vectors_from_blobs(blobs: list[bytes], dim: int) -> np.ndarray:
    """(n, dim) float32 from stored blobs: float16 (now), float32 (catalogs written before), or both."""
    half, full = dim * STORED.itemsize, dim * 4
    if all(len(b) == half for b in blobs):
        return _unit(np.frombuffer(b"".join(blobs), dtype=STORED).reshape(len(blobs), dim).astype(np.float32))
    out = np.empty((len(blobs), dim), dtype=np.float32)
    for i, b in enumerate(blobs):
        if len(b) not in (half, full):
            raise ValueError(f"a stored vector of {len(b)} bytes has not {dim} dimensions: the catalog is damaged")
        out[i] = _unit(np.frombuffer(b, dtype=STORED).astype(np.float32)) if len(b) == half else np.frombuffer(b, "<f4")
    return out


def _wrapped(lo: float, hi: float) -> tuple[float, float]:
    """The part of a longitude range past the antimeridian, on the other side."""
    return (lo + 360, 180.0) if lo < -180 else (-180.0, hi - 360)


class SpaceMismatchError(RuntimeError):
    pass


class Catalog:
    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()
        self.hash_kind = self._hash_kind()

    def _hash_kind(self) -> HashKind:
        """The content hash of this catalog's rows (facts: migration 11). One without pictures takes the new
        catalogs' hash at its first opening."""
        sql = "SELECT value FROM facts WHERE name = 'hash'"
        if (row := self.conn.execute(sql).fetchone()) is None:
            with self.transaction() as t:
                t.execute("INSERT OR IGNORE INTO facts VALUES ('hash', ?)", (hashing.NEW_CATALOGS.value,))
            row = self.conn.execute(sql).fetchone()
        try:
            return HashKind(row[0])
        except ValueError:
            raise RuntimeError(
                f"{self.db_path}: content hash {row[0]!r} is unknown to this StyleSeek: upgrade it"
            ) from None

    # one connection per thread: the web server reads while the indexer writes (WAL allows it)
    @property
    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA foreign_keys=ON")
            c.create_function("stored_vector", 2, _stored_vector, deterministic=True)
            self._local.conn = c
        return c

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def _migrate(self) -> None:
        c = self.conn
        version = c.execute("PRAGMA user_version").fetchone()[0]
        for i, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            if callable(sql):  # moves data in steps of its own, and sets the version in its last
                if version:
                    log.warning("upgrading the catalog (migration %d): once, about 30 s per 100k pictures", i)
                sql(self.transaction)
                self._vacuum()
                continue
            with self.transaction() as t:
                stmt = ""
                for piece in sql.split(";"):  # a trigger's body holds ';' too: whole statements only
                    stmt += piece + ";"
                    if sqlite3.complete_statement(stmt):
                        if stmt.strip(" \n;"):
                            t.execute(stmt)
                        stmt = ""
                t.execute(f"PRAGMA user_version={i}")

    def _vacuum(self) -> None:
        """Give the disk back what a migration freed (a quarter of the file or more), once; another process with
        the catalog open makes it wait for a later opening."""
        c = self.conn
        free, pages = c.execute("PRAGMA freelist_count").fetchone()[0], c.execute("PRAGMA page_count").fetchone()[0]
        if free * 4 < pages:
            return
        try:
            c.execute("VACUUM")
        except sqlite3.OperationalError as err:
            log.warning("the catalog keeps %d free pages for now (%s): they are used again as it grows", free, err)

    # spaces -------------------------------------------------------------------------------------
    def check_space(self, name: str, dim: int, fingerprint: str) -> None:
        """Refuse to mix vectors of different models in one space."""
        row = self.conn.execute("SELECT dim, model_fingerprint FROM spaces WHERE name=?", (name,)).fetchone()
        if row is None:
            with self.transaction() as t:
                t.execute("INSERT INTO spaces(name, dim, model_fingerprint) VALUES (?,?,?)", (name, dim, fingerprint))
            return
        if (row[0], row[1]) != (dim, fingerprint):
            if self.count_vectors(name) == 0:
                with self.transaction() as t:
                    t.execute("UPDATE spaces SET dim=?, model_fingerprint=? WHERE name=?", (dim, fingerprint, name))
                return
            if row[1].removesuffix("@int8") == fingerprint.removesuffix("@int8"):
                was, now = ("int8", "fp32") if row[1].endswith("@int8") else ("fp32", "int8")
                raise SpaceMismatchError(
                    f"The {name} index was built at {was} precision and the model now runs at {now}: their vectors "
                    f"do not mix. Set STYLESEEK_PRECISION={was}, or start a new data folder (STYLESEEK_DATA_DIR)."
                )
            raise SpaceMismatchError(
                f"The {name} index was built with another model (dim {row[0]}, weights {row[1]}); the loaded "
                f"model is dim {dim}, weights {fingerprint}. Use the same models, or start a new data folder "
                f"(STYLESEEK_DATA_DIR) to index with these."
            )

    # folders ------------------------------------------------------------------------------------
    def add_folder(self, path: str) -> int:
        with self.transaction() as t:
            t.execute("INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)", (path, time.time()))
            return int(t.execute("SELECT id FROM folders WHERE path=?", (path,)).fetchone()[0])

    def touch_folder(self, folder_id: int) -> None:
        """A run over the folder went to its end."""
        with self.transaction() as t:
            t.execute("UPDATE folders SET last_indexed_at=?, last_run='complete' WHERE id=?", (time.time(), folder_id))

    def folder_running(self, folder_id: int) -> None:
        """A run over the folder began: until touch_folder, the folder is partly indexed."""
        with self.transaction() as t:
            t.execute("UPDATE folders SET last_run='running' WHERE id=?", (folder_id,))

    def folder_stats(self) -> list[FolderStats]:
        rows = self.conn.execute(
            """SELECT f.id, f.path,
                      COALESCE(SUM(i.status='indexed'), 0), COALESCE(SUM(i.status='error'), 0), f.last_indexed_at,
                      f.last_run
               FROM folders f LEFT JOIN images i ON i.folder_id = f.id
               GROUP BY f.id ORDER BY f.path"""
        ).fetchall()
        return [FolderStats(*r) for r in rows]

    def folder_errors(self, folder_id: int, limit: int = 200) -> list[tuple[str, str]]:
        """(path, why) of the folder's files that could not be indexed."""
        q = "SELECT path, COALESCE(error, '') FROM images WHERE folder_id=? AND status='error' ORDER BY path LIMIT ?"
        return [(r[0], r[1]) for r in self.conn.execute(q, (folder_id, limit))]

    def folder_image_ids(self, folder_id: int) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM images WHERE folder_id=?", (folder_id,))]

    def delete_folder(self, folder_id: int) -> None:
        with self.transaction() as t:
            t.execute("DELETE FROM images WHERE folder_id=?", (folder_id,))
            t.execute("DELETE FROM folders WHERE id=?", (folder_id,))

    # images -------------------------------------------------------------------------------------
    def get(self, image_id: int) -> ImageRow | None:
        r = self.conn.execute(f"SELECT {IMAGE_COLUMNS} FROM images WHERE id=?", (image_id,)).fetchone()
        return ImageRow(*r) if r else None

    def get_by_path(self, path: str) -> ImageRow | None:
        r = self.conn.execute(f"SELECT {IMAGE_COLUMNS} FROM images WHERE path=?", (path,)).fetchone()
        return ImageRow(*r) if r else None

    def get_many(self, ids: Iterable[int]) -> dict[int, ImageRow]:
        out: dict[int, ImageRow] = {}
        for chunk in chunked(ids):
            q = f"SELECT {IMAGE_COLUMNS} FROM images WHERE id IN ({','.join('?' * len(chunk))})"
            for r in self.conn.execute(q, chunk):
                out[r[0]] = ImageRow(*r)
        return out

    def timeline(
        self, after: tuple[float, int] | None, limit: int, taken: tuple[str, str] | None = None
    ) -> list[ImageRow]:
        """Indexed pictures newest first (undated last), `limit` of them after the cursor (taken_sort, id): a
        keyset page, as quick at the millionth picture as at the first (index images_timeline). `taken`: only
        those taken in the span ('2023-07', '2023-08': prefixes of the local time, both ends included), read
        by a range of the same index (widened by the 14 h a local clock can be off UTC) and then exactly."""
        where, args = "status='indexed'", []
        if taken:
            lo, hi = span_seconds(*taken)
            where += " AND taken_sort BETWEEN ? AND ? AND taken_at >= ? AND substr(taken_at, 1, ?) <= ?"
            args += [lo - 14 * 3600, hi + 14 * 3600, taken[0], len(taken[1]), taken[1]]
        if after:
            where += " AND (taken_sort, id) < (?, ?)"
            args += list(after)
        q = f"SELECT {IMAGE_COLUMNS} FROM images WHERE {where} ORDER BY taken_sort DESC, id DESC LIMIT ?"
        return [ImageRow(*r) for r in self.conn.execute(q, (*args, limit))]

    def known_under(self, folder_id: int) -> dict[str, Known]:
        """path -> what the planner compares, for every row of a folder."""
        rows = self.conn.execute(
            "SELECT path, id, size, mtime, hash, status, extra_sig, meta_version, format FROM images WHERE folder_id=?",
            (folder_id,),
        )
        return {r[0]: Known(*r[1:]) for r in rows}

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0])
        return int(self.conn.execute("SELECT COUNT(*) FROM images WHERE status=?", (status,)).fetchone()[0])

    def hash_in_use(self, h: str) -> bool:
        return self.conn.execute("SELECT 1 FROM images WHERE hash=? LIMIT 1", (h,)).fetchone() is not None

    # vectors ------------------------------------------------------------------------------------
    def count_vectors(self, space: str) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM vectors WHERE space=?", (space,)).fetchone()[0])

    def space_generation(self, space: str) -> int:
        """A counter that every vector written to or deleted from the space moves on (schema migration 6)."""
        row = self.conn.execute("SELECT generation FROM spaces WHERE name=?", (space,)).fetchone()
        return int(row[0]) if row else 0

    def vector_ids(self, space: str) -> np.ndarray:
        rows = self.conn.execute("SELECT image_id FROM vectors WHERE space=? ORDER BY image_id", (space,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def load_vectors(self, space: str, ids: np.ndarray | None, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) for the given ids, or all of the space when ids is None."""
        if ids is None:
            rows = self.conn.execute("SELECT image_id, vector FROM vectors WHERE space=? ORDER BY image_id", (space,))
            pairs = list(rows)
        else:
            pairs = []
            for chunk in chunked(ids):
                q = f"SELECT image_id, vector FROM vectors WHERE space=? AND image_id IN ({','.join('?' * len(chunk))})"
                pairs.extend(self.conn.execute(q, [space, *chunk]))
        out_ids = np.array([p[0] for p in pairs], dtype=np.int64)
        return out_ids, vectors_from_blobs([p[1] for p in pairs], dim)

    # writes: called inside transaction() so that a batch lands whole or not at all ----------------
    @staticmethod
    def insert_image(t: sqlite3.Connection, row: dict) -> int:
        row = {**row, "indexed_at": time.time()}
        cols = ", ".join(row)
        new_id = "(SELECT value + 1 FROM counters WHERE name = 'image_id')"  # never a deleted picture's id
        cur = t.execute(
            f"INSERT INTO images(id, {cols}) VALUES ({new_id}, {', '.join('?' * len(row))})", tuple(row.values())
        )
        return int(cur.lastrowid)

    @staticmethod
    def add_vector(t: sqlite3.Connection, image_id: int, space: str, vec: np.ndarray) -> None:
        t.execute(
            "INSERT OR REPLACE INTO vectors(image_id, space, vector) VALUES (?,?,?)",
            (image_id, space, vector_blob(vec)),
        )

    @staticmethod
    def delete_images(t: sqlite3.Connection, ids: list[int]) -> None:
        for chunk in chunked(ids):
            t.execute(f"DELETE FROM images WHERE id IN ({','.join('?' * len(chunk))})", chunk)

    def remove_images(self, ids: list[int]) -> None:
        with self.transaction() as t:
            Catalog.delete_images(t, ids)

    def lacking_place(self, version: int) -> list[tuple[int, float, float]]:
        """(id, lat, lon) of images with GPS placed by an older method than `version`, or not at all."""
        q = (
            "SELECT id, gps_lat, gps_lon FROM images WHERE gps_lat IS NOT NULL "
            "AND (place_version IS NULL OR place_version < ?)"
        )
        return [(r[0], r[1], r[2]) for r in self.conn.execute(q, (version,))]

    def places_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(country codes, regions, lats, lons) for the ids, in their order; None / NaN where unknown."""
        rows = {}
        idl = [int(i) for i in ids]
        for chunk in chunked(idl):
            q = (
                f"SELECT id, place_country_code, place_region, gps_lat, gps_lon FROM images "
                f"WHERE id IN ({','.join('?' * len(chunk))})"
            )
            rows.update({r[0]: r[1:] for r in self.conn.execute(q, chunk)})
        get = [rows.get(i, (None, None, None, None)) for i in idl]
        cc = np.array([g[0] for g in get], dtype=object)
        region = np.array([g[1] for g in get], dtype=object)
        lat = np.array([np.nan if g[2] is None else g[2] for g in get], dtype=np.float64)
        lon = np.array([np.nan if g[3] is None else g[3] for g in get], dtype=np.float64)
        return cc, region, lat, lon

    def ids_in_area(
        self,
        kind: str,
        country_code: str,
        region: str | None,
        lat: float | None,
        radius_km: float | None,
        limit: int,
        lon: float | None = None,
    ) -> list[int]:
        """Indexed images in a country or region, or with GPS within ~4 radii of a point (the score decays):
        a box around the point in the positions R*Tree, so a million rows cost what the box holds."""
        base = "SELECT id FROM images WHERE status='indexed' "
        if kind == "country":
            rows = self.conn.execute(base + "AND place_country_code=? LIMIT ?", (country_code, limit))
        elif kind == "region":
            rows = self.conn.execute(
                base + "AND place_country_code=? AND place_region=? LIMIT ?", (country_code, region, limit)
            )
        else:
            assert lat is not None
            reach = 4 * float(radius_km or 25)  # the exact distance is computed later
            dlat = reach / 111.0
            dlon = reach / (111.0 * max(0.01, math.cos(math.radians(min(89.9, abs(lat) + dlat)))))
            lo, hi = (lon - dlon, lon + dlon) if lon is not None and dlon < 180 else (-180.0, 180.0)
            boxes = [(lo, hi)] if -180 <= lo and hi <= 180 else [(max(lo, -180), min(hi, 180)), _wrapped(lo, hi)]
            rows = []
            for a, b in boxes:  # two boxes where the circle crosses the antimeridian
                rows += self.conn.execute(  # the R*Tree alone: it holds indexed pictures only (migration 7)
                    "SELECT id FROM positions WHERE max_lat >= ? AND min_lat <= ? AND max_lon >= ? AND min_lon <= ? "
                    "LIMIT ?",
                    (lat - dlat, lat + dlat, a, b, limit),
                ).fetchall()
        return [r[0] for r in rows][:limit]

    @staticmethod
    def set_place(t: sqlite3.Connection, image_id: int, place: dict) -> None:
        t.execute(
            "UPDATE images SET place_city=?, place_region=?, place_country_code=?, place_distance_km=?, "
            "place_detail=?, place_version=? WHERE id=?",
            (
                place["place_city"],
                place["place_region"],
                place["place_country_code"],
                place["place_distance_km"],
                place["place_detail"],
                place["place_version"],
                image_id,
            ),
        )

    @staticmethod
    def update_metadata(t: sqlite3.Connection, image_id: int, row: dict) -> None:
        cols = [c for c in METADATA_COLUMNS if c in row]
        t.execute(
            f"UPDATE images SET {', '.join(f'{c}=?' for c in cols)} WHERE id=?",
            (*(row[c] for c in cols), image_id),
        )

    @staticmethod
    def move_image(t: sqlite3.Connection, image_id: int, folder_id: int, path: str, size: int, mtime: float) -> None:
        t.execute(
            "UPDATE images SET folder_id=?, path=?, size=?, mtime=? WHERE id=?",
            (folder_id, path, size, mtime, image_id),
        )
