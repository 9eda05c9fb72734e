"""Large collections (issue 14): a space past the threshold searches approximately and scores exactly from
SQLite; a start reads one counter, not a million ids, when the FAISS file is current; positions are found
through the R*Tree, across the antimeridian too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.catalog import Catalog, as_stored
from indexing.vectors import VectorIndex
from services import StyleSeek
from settings import Settings
from tests.imagegen import make_collection


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    x = centres[rng.integers(0, 40, n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def add_pictures(cat: Catalog, tmp: Path, vectors: np.ndarray, prefix: str = "p", space: str = "content") -> list[int]:
    """Indexed rows with these vectors, in one transaction (as a pipeline commit writes them)."""
    folder = cat.add_folder(str(tmp / "pictures"))
    with cat.transaction() as t:
        ids = [
            Catalog.insert_image(
                t,
                {
                    "folder_id": folder,
                    "path": f"/{prefix}/{i}.jpg",
                    "size": 1,
                    "mtime": 1.0,
                    "hash": f"{prefix}{i:031x}",
                    "status": "indexed",
                },
            )  # fmt: skip
            for i in range(len(vectors))
        ]
        for i, v in zip(ids, vectors, strict=True):
            Catalog.add_vector(t, i, space, v)
    return ids


def catalog_with(tmp: Path, vectors: np.ndarray, space: str = "content") -> tuple[Catalog, list[int]]:
    cat = Catalog(tmp / "catalog.sqlite3")
    cat.check_space(space, vectors.shape[1], "test")
    return cat, add_pictures(cat, tmp, vectors, space=space)


def test_past_the_threshold_the_index_proposes_and_sqlite_scores(tmp_path: Path) -> None:
    x = clustered(6000, 32)
    cat, ids = catalog_with(tmp_path, x)
    index = VectorIndex(tmp_path / "content.faiss", "content", 32, ann_threshold=2000, nprobe=16)
    index.load_and_reconcile(cat)
    assert index.approximate and index.ntotal == 6000
    assert index.resident_bytes() == 6000 * (32 + 8 + 40)  # a byte a dimension, the id, its map entry (vs 136 exact)
    queries = clustered(20, 32, seed=7)
    _, got = index.search(queries, 50)
    exact = np.asarray(ids)[np.argsort(-(queries @ x.T), axis=1)[:, :50]]
    recall = np.mean([len(set(a) & set(b)) / 50 for a, b in zip(got, exact, strict=True)])
    assert recall >= 0.95, recall
    vecs, have = index.reconstruct_many(np.array([ids[5], 10**9, ids[0]]))
    assert have.tolist() == [True, False, True]
    np.testing.assert_array_equal(vecs[0], as_stored(x[5]))  # the vector SQLite holds, not its 8-bit code
    np.testing.assert_array_equal(index.reconstruct(ids[0]), as_stored(x[0]))
    # ranking thousands of candidates decodes the codes in memory instead: close, not equal
    decoded, have = index.reconstruct_many(np.asarray(ids[:500] + [10**9]), exact=False)
    assert have.tolist() == [True] * 500 + [False]
    cos = np.sum(decoded[:500] * x[:500], axis=1) / np.linalg.norm(decoded[:500], axis=1)
    assert cos.min() > 0.99 and not np.array_equal(decoded[:500], x[:500])
    with cat.transaction() as t:  # as the pipeline removes: SQLite first, then the index
        Catalog.delete_images(t, ids[3:5])
    index.remove(ids[3:5])  # through the id -> code map, which survives a save and a load
    index.save()
    again = VectorIndex(tmp_path / "content.faiss", "content", 32, ann_threshold=2000, nprobe=16)
    assert again.load_and_reconcile(cat) == {"loaded": 5998, "added": 0, "removed": 0}
    assert again.reconstruct_many(np.asarray(ids[2:6]), exact=False)[1].tolist() == [True, False, False, True]


def test_a_start_reads_one_counter_when_the_file_is_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x = clustered(3000, 16)
    cat, ids = catalog_with(tmp_path, x)
    VectorIndex(tmp_path / "content.faiss", "content", 16, ann_threshold=1000).load_and_reconcile(cat)

    def no_id_reading(space: str) -> np.ndarray:
        raise AssertionError("a current file needs no id reconcile")

    with monkeypatch.context() as m:
        m.setattr(cat, "vector_ids", no_id_reading)
        again = VectorIndex(tmp_path / "content.faiss", "content", 16, ann_threshold=1000)
        assert again.load_and_reconcile(cat) == {"loaded": 3000, "added": 0, "removed": 0} and again.approximate
    with cat.transaction() as t:  # another process indexed one more picture and dropped one
        Catalog.add_vector(t, ids[0], "content", x[0])  # rewritten: the counter moves too
        Catalog.delete_images(t, [ids[1]])
    third = VectorIndex(tmp_path / "content.faiss", "content", 16, ann_threshold=1000)
    assert third.load_and_reconcile(cat)["removed"] == 1 and third.ntotal == 2999


def test_an_exact_index_becomes_approximate_when_it_grows_past_the_threshold(tmp_path: Path) -> None:
    x = clustered(2500, 24)
    cat, ids = catalog_with(tmp_path, x[:1500])
    index = VectorIndex(tmp_path / "content.faiss", "content", 24, ann_threshold=2000)
    index.load_and_reconcile(cat)
    assert not index.approximate
    more = add_pictures(cat, tmp_path, x[1500:], prefix="q")
    index.add(np.asarray(more, np.int64), x[1500:])  # as the pipeline does after its commit
    index.save()
    assert index.approximate
    reopened = VectorIndex(tmp_path / "content.faiss", "content", 24, ann_threshold=2000)
    reopened.load_and_reconcile(cat)
    assert reopened.approximate and np.array_equal(reopened.ids(), np.sort(np.asarray(ids + more)))


def test_search_through_an_approximate_index_gives_the_exact_hits_and_scores(
    tmp_path: Path, settings: Settings, shared_encoder, shared_style_encoders
) -> None:  # noqa: ANN001
    make_collection(tmp_path / "lib", 16)
    exact = StyleSeek(settings, content_encoder=shared_encoder, style_encoders=shared_style_encoders)
    exact.index_folders([tmp_path / "lib"])
    approx = StyleSeek(
        Settings(**{**settings.model_dump(), "ann_threshold": 4}),
        content_encoder=shared_encoder,
        style_encoders=shared_style_encoders,
    )  # the same catalog and files: its indices are rebuilt approximate on opening
    assert all(approx.vector_index(s).approximate for s in ("content", "style", "texture"))
    for query in ("a dog on a beach", "red corner"):
        a = [(h.image.id, round(h.score, 5)) for h in exact.search(query, k=10)]
        b = [(h.image.id, round(h.score, 5)) for h in approx.search(query, k=10)]
        assert a == b, query
    some = exact.catalog.get_by_path(str(tmp_path / "lib" / "img003.jpg")).id
    assert [h.image.id for h in exact.similar(some, k=5)] == [h.image.id for h in approx.similar(some, k=5)]


def test_positions_come_from_the_rtree_across_the_antimeridian(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.sqlite3")
    folder = cat.add_folder("/p")
    spots = {"near": (45.1, 7.1), "same latitude, far east": (45.0, 97.0), "east of the line": (0.0, 179.95),
             "west of the line": (0.0, -179.95), "unplaced": (None, None)}  # fmt: skip
    ids = {}
    with cat.transaction() as t:
        for name, (lat, lon) in spots.items():
            row = {"folder_id": folder, "path": f"/p/{name}.jpg", "size": 1, "mtime": 1.0, "hash": name,
                   "status": "indexed", "gps_lat": lat, "gps_lon": lon}  # fmt: skip
            ids[name] = Catalog.insert_image(t, row)
    assert cat.ids_in_area("city", "IT", None, 45.0, 25, 100, lon=7.0) == [ids["near"]]
    across = set(cat.ids_in_area("city", "FJ", None, 0.0, 10, 100, lon=179.99))
    assert across == {ids["east of the line"], ids["west of the line"]}
    with cat.transaction() as t:  # a corrected position moves in the tree too
        t.execute("UPDATE images SET gps_lat=45.0, gps_lon=97.01 WHERE id=?", (ids["near"],))
    moved = cat.ids_in_area("city", "CN", None, 45.0, 25, 100, lon=97.0)
    assert sorted(moved) == sorted([ids["near"], ids["same latitude, far east"]])
    with cat.transaction() as t:  # only indexed pictures are in the tree: a failed row at the spot is not
        broken = {"folder_id": folder, "path": "/p/broken.jpg", "size": 1, "mtime": 1.0, "hash": "x",
                  "status": "error", "gps_lat": 0.0, "gps_lon": 179.9}  # fmt: skip
        broken_id = Catalog.insert_image(t, broken)
    assert set(cat.ids_in_area("city", "FJ", None, 0.0, 10, 100, lon=179.99)) == across
    with cat.transaction() as t:
        t.execute("UPDATE images SET status='indexed' WHERE id=?", (broken_id,))
    assert set(cat.ids_in_area("city", "FJ", None, 0.0, 10, 100, lon=179.99)) == across | {broken_id}


def test_a_catalog_of_migration_6_keeps_its_positions(tmp_path: Path) -> None:
    """Migration 7 rebuilds the R*Tree's triggers: a catalog made before it keeps its placed pictures."""
    cat = Catalog(tmp_path / "catalog.sqlite3")
    folder = cat.add_folder("/p")
    with cat.transaction() as t:
        row = {"folder_id": folder, "path": "/p/a.jpg", "size": 1, "mtime": 1.0, "hash": "a", "status": "indexed",
               "gps_lat": 10.0, "gps_lon": 20.0}  # fmt: skip
        placed = Catalog.insert_image(t, row)
        t.execute("DROP TRIGGER image_id_used")  # as a catalog of migration 6 was: later ones run on opening
        t.execute("DROP TABLE counters")
        t.execute("DROP TABLE dropped")  # (migration 10's)
        t.execute("DROP TABLE facts")  # (migration 11's)
        t.execute("PRAGMA user_version = 6")
    cat.conn.close()
    again = Catalog(tmp_path / "catalog.sqlite3")
    assert again.conn.execute("PRAGMA user_version").fetchone()[0] >= 7
    assert again.ids_in_area("city", "XX", None, 10.0, 5, 10, lon=20.0) == [placed]


def test_a_deleted_pictures_id_is_never_given_again(tmp_path: Path) -> None:
    """The newest picture deleted and another added (a crash before the FAISS file was saved): the new one
    gets a new id, so the reconcile sees the old vector's id gone and the new one missing, and fixes both."""
    x = clustered(3, 8)
    cat, ids = catalog_with(tmp_path, x[:2])
    index = VectorIndex(tmp_path / "content.faiss", "content", 8)
    index.load_and_reconcile(cat)
    index.save()  # the file holds ids[0] and ids[1]
    with cat.transaction() as t:  # the newest picture replaced; the process dies before saving the index
        Catalog.delete_images(t, [ids[1]])
        row = {"folder_id": 1, "path": "/p/new.jpg", "size": 1, "mtime": 1.0, "hash": "new", "status": "indexed"}
        new = Catalog.insert_image(t, row)
        Catalog.add_vector(t, new, "content", x[2])
    assert new == ids[1] + 1
    reopened = VectorIndex(tmp_path / "content.faiss", "content", 8)
    assert reopened.load_and_reconcile(cat) == {"loaded": 2, "added": 1, "removed": 1}
    np.testing.assert_array_equal(reopened.reconstruct(new), as_stored(x[2]))
    assert reopened.reconstruct(ids[1]) is None


def test_vectors_are_stored_at_half_size_and_older_float32_rows_still_read(tmp_path: Path) -> None:
    """SQLite holds float16 (half the bytes); read back, a vector is unit length again and its cosine with a
    query within 5e-5 of float32's at the real sizes; rows an earlier version wrote as float32 read as they were,
    beside new ones; a blob of another length is an error that says the catalog is damaged."""
    rng = np.random.default_rng(3)
    for dim in (512, 768, 2816):
        x = clustered(200, dim, seed=dim)
        got = as_stored(x)
        q = clustered(20, dim, seed=1)
        assert np.abs(q @ x.T - q @ got.T).max() < 5e-5
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    x = clustered(3, 32)
    cat, ids = catalog_with(tmp_path, x[:2])
    blobs = [b for (b,) in cat.conn.execute("SELECT vector FROM vectors ORDER BY image_id")]
    assert [len(b) for b in blobs] == [32 * 2, 32 * 2]
    old = add_pictures(cat, tmp_path, x[2:], prefix="old")[0]
    with cat.transaction() as t:  # as versions before float16 wrote it
        t.execute("UPDATE vectors SET vector=? WHERE image_id=?", (x[2].astype(np.float32).tobytes(), old))
    got_ids, vecs = cat.load_vectors("content", None, 32)
    assert got_ids.tolist() == [*ids, old]
    np.testing.assert_array_equal(vecs[2], x[2])  # the float32 row exactly as written
    np.testing.assert_array_equal(vecs[:2], as_stored(x[:2]))
    with cat.transaction() as t:
        t.execute("UPDATE vectors SET vector=? WHERE image_id=?", (rng.bytes(50), ids[0]))
    with pytest.raises(ValueError, match="catalog is damaged"):
        cat.load_vectors("content", None, 32)


def old_catalog(path: Path, vectors: np.ndarray, version: int = 8) -> list[int]:
    """A catalog as a version before migration 9 wrote it: its migrations' SQL, a WITHOUT ROWID vectors table
    of float32 blobs."""
    import sqlite3

    from indexing.schema import MIGRATIONS

    c = sqlite3.connect(path, isolation_level=None)
    for sql in MIGRATIONS[:version]:
        c.executescript(sql)
    c.execute("INSERT INTO folders(path, added_at) VALUES ('/p', 1.0)")
    c.execute("INSERT INTO spaces(name, dim, model_fingerprint) VALUES ('content', ?, 'test')", (vectors.shape[1],))
    ids = []
    c.execute("BEGIN")
    for i, v in enumerate(vectors):
        cur = c.execute(
            "INSERT INTO images(folder_id, path, size, mtime, hash, status, indexed_at)"
            " VALUES (1, ?, 1, 1.0, ?, 'indexed', 1.0)",
            (f"/p/{i}.jpg", f"{i:032x}"),
        )
        ids.append(int(cur.lastrowid))
        c.execute("INSERT INTO vectors VALUES (?, 'content', ?)", (ids[-1], v.astype("<f4").tobytes()))
    c.execute("COMMIT")
    c.execute(f"PRAGMA user_version={version}")
    c.close()
    return ids


def test_an_older_catalog_gets_its_vectors_at_half_size_once_even_if_cut_short(tmp_path: Path) -> None:
    """Migration 9 moves an older catalog's float32 vectors into an ordinary table at float16, pictures and the
    space's counter unchanged, and gives the disk back; cut short (half moved), the next opening finishes it."""
    from indexing.hashing import HashKind
    from indexing.schema import MIGRATIONS

    x = clustered(7000, 256)  # more than one step of the move
    ids = old_catalog(tmp_path / "a.sqlite3", x)
    before = (tmp_path / "a.sqlite3").stat().st_size
    cat = Catalog(tmp_path / "a.sqlite3")
    assert cat.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 11
    assert cat.hash_kind is HashKind.BLAKE2B  # its rows' hash (migration 11): new catalogs take xxh3
    table = cat.conn.execute("SELECT sql FROM sqlite_master WHERE name='vectors'").fetchone()[0]
    assert "WITHOUT ROWID" not in table
    assert {len(b) for (b,) in cat.conn.execute("SELECT vector FROM vectors")} == {256 * 2}
    got_ids, vecs = cat.load_vectors("content", None, 256)
    assert got_ids.tolist() == ids
    np.testing.assert_array_equal(vecs, as_stored(x))
    generation = cat.space_generation("content")
    assert (tmp_path / "a.sqlite3").stat().st_size < before * 0.7  # vacuumed: float32 -> float16 and no waste
    add_pictures(cat, tmp_path, clustered(1, 256, seed=9), prefix="new")  # the triggers are back
    assert cat.space_generation("content") == generation + 1
    # cut short: the new table holds the first pictures, the old one the rest, the version still 8
    ids = old_catalog(tmp_path / "b.sqlite3", x[:3000])
    import sqlite3

    from indexing.catalog import _stored_vector

    c = sqlite3.connect(tmp_path / "b.sqlite3", isolation_level=None)
    c.create_function("stored_vector", 2, _stored_vector)
    c.execute("CREATE TABLE vectors_new (image_id INTEGER NOT NULL, space TEXT NOT NULL, vector BLOB NOT NULL)")
    c.execute(
        "INSERT INTO vectors_new SELECT image_id, space, stored_vector(vector, 256) FROM vectors WHERE image_id <= 1500"
    )
    c.execute("DELETE FROM vectors WHERE image_id <= 1500")
    c.close()
    cat = Catalog(tmp_path / "b.sqlite3")
    got_ids, vecs = cat.load_vectors("content", None, 256)
    assert got_ids.tolist() == ids
    np.testing.assert_array_equal(vecs, as_stored(x[:3000]))  # each picture once, all at float16
