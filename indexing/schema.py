"""The catalog's schema: its versioned migrations (each runs once, in order: SQL in one transaction, Python in
steps of its own that resume) and the version of the reader that filled a row's metadata."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager

VECTOR_TRIGGERS = """
    CREATE TRIGGER vectors_added AFTER INSERT ON vectors
        BEGIN UPDATE spaces SET generation = generation + 1 WHERE name = NEW.space; END;
    CREATE TRIGGER vectors_deleted AFTER DELETE ON vectors
        BEGIN UPDATE spaces SET generation = generation + 1 WHERE name = OLD.space; END;
    CREATE TRIGGER vectors_replaced AFTER UPDATE ON vectors
        BEGIN UPDATE spaces SET generation = generation + 1 WHERE name = NEW.space; END;
"""


def vectors_at_half_size(transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]) -> None:
    """Migration 9: the vectors as float16 (the SQL function stored_vector, indexing/catalog.py) in an ordinary
    rowid table. A WITHOUT ROWID table keeps at most ~1 KB of a row in its page and each row's rest in an
    overflow page of its own, mostly empty: at float16 more than half its pages were unused (BENCHMARKS.md).
    Moved a slice of pictures a transaction, so that the WAL stays small and freed pages are reused as it goes;
    a run cut short goes on from where it stopped at the next opening (the version is set in the last step).
    The generation triggers are off during the move: the FAISS files hold the same pictures before and after."""
    with transaction() as t:
        t.execute(
            "CREATE TABLE IF NOT EXISTS vectors_new (image_id INTEGER NOT NULL REFERENCES images(id)"
            " ON DELETE CASCADE, space TEXT NOT NULL, vector BLOB NOT NULL)"
        )
        for name in ("vectors_added", "vectors_deleted", "vectors_replaced"):
            t.execute(f"DROP TRIGGER IF EXISTS {name}")
    while True:
        with transaction() as t:
            row = t.execute("SELECT image_id FROM vectors ORDER BY image_id LIMIT 1 OFFSET 6000").fetchone()
            last = "" if row is None else " WHERE image_id < ?"  # 2,000 pictures' three rows, or all that is left
            args = () if row is None else (row[0],)
            t.execute(
                "INSERT INTO vectors_new(image_id, space, vector) SELECT image_id, space,"
                f" stored_vector(vector, (SELECT dim FROM spaces WHERE name = space)) FROM vectors{last}"
                " ORDER BY image_id, space",
                args,
            )
            t.execute(f"DELETE FROM vectors{last}", args)
        if row is None:
            break
    with transaction() as t:
        t.execute("DROP TABLE vectors")
        t.execute("ALTER TABLE vectors_new RENAME TO vectors")
        t.execute("CREATE UNIQUE INDEX vectors_key ON vectors(image_id, space)")
        t.execute("CREATE INDEX vectors_space ON vectors(space, image_id)")
        for trigger in VECTOR_TRIGGERS.split("END;")[:-1]:
            t.execute(trigger + "END;")
        t.execute("PRAGMA user_version=9")


MIGRATIONS: list[str | Callable[..., None]] = [
    # 1: the spine
    """
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        added_at REAL NOT NULL,
        last_indexed_at REAL
    );
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        hash TEXT,
        status TEXT NOT NULL CHECK (status IN ('indexed', 'error')),
        error TEXT,
        format TEXT,
        width INTEGER,
        height INTEGER,
        orientation INTEGER,
        taken_at TEXT,
        camera_make TEXT,
        camera_model TEXT,
        gps_lat REAL,
        gps_lon REAL,
        gps_alt REAL,
        notes TEXT,
        indexed_at REAL NOT NULL
    );
    CREATE INDEX images_folder ON images(folder_id);
    CREATE INDEX images_hash ON images(hash);
    CREATE TABLE vectors (
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        space TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (image_id, space)
    ) WITHOUT ROWID;
    CREATE INDEX vectors_space ON vectors(space, image_id);
    CREATE TABLE spaces (
        name TEXT PRIMARY KEY,
        dim INTEGER NOT NULL,
        model_fingerprint TEXT NOT NULL
    );
    """,
    # 2: the nearest populated place of images with GPS (offline gazetteer)
    """
    ALTER TABLE images ADD COLUMN place_city TEXT;
    ALTER TABLE images ADD COLUMN place_region TEXT;
    ALTER TABLE images ADD COLUMN place_country_code TEXT;
    ALTER TABLE images ADD COLUMN place_distance_km REAL;
    CREATE INDEX images_country ON images(place_country_code);
    """,
    # 3: which gazetteer method placed the image, so a better one re-places old rows (no file is re-read)
    """
    ALTER TABLE images ADD COLUMN place_version INTEGER;
    """,
    # 4: what real cameras and phones write: the orientation applied, the UTC offset, XMP values, RAW+JPEG
    # pairs and sidecars, the finer place name; meta_version says which reader filled a row
    """
    ALTER TABLE images ADD COLUMN orientation_applied INTEGER;
    ALTER TABLE images ADD COLUMN taken_offset TEXT;
    ALTER TABLE images ADD COLUMN taken_utc REAL;
    ALTER TABLE images ADD COLUMN rating INTEGER;
    ALTER TABLE images ADD COLUMN title TEXT;
    ALTER TABLE images ADD COLUMN description TEXT;
    ALTER TABLE images ADD COLUMN keywords TEXT;
    ALTER TABLE images ADD COLUMN sources TEXT;
    ALTER TABLE images ADD COLUMN companions TEXT;
    ALTER TABLE images ADD COLUMN sidecars TEXT;
    ALTER TABLE images ADD COLUMN extra_sig TEXT;
    ALTER TABLE images ADD COLUMN place_detail TEXT;
    ALTER TABLE images ADD COLUMN meta_version INTEGER;
    ALTER TABLE images ADD COLUMN taken_sort REAL NOT NULL DEFAULT -1e15;
    UPDATE images SET taken_sort = COALESCE(taken_utc, CAST(strftime('%s', taken_at) AS REAL))
        WHERE strftime('%s', taken_at) IS NOT NULL;
    CREATE INDEX images_timeline ON images(status, taken_sort, id);
    """,
    # how a folder's last run ended: 'running' left behind means it stopped partway (cancelled or crashed)
    """
    ALTER TABLE folders ADD COLUMN last_run TEXT;
    UPDATE folders SET last_run = 'complete' WHERE last_indexed_at IS NOT NULL;
    """,
    # 6 (issue 14): a counter per space that every vector written or deleted moves on, so that a start checks the
    # FAISS file against SQLite by one number, not by reading a million ids; and the filters' indices (camera,
    # and an R*Tree of positions) so that a filter over a million rows reads only what it keeps
    """
    ALTER TABLE spaces ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
    """
    + VECTOR_TRIGGERS
    + """
    CREATE INDEX images_camera ON images(camera_model);
    CREATE VIRTUAL TABLE positions USING rtree(id, min_lat, max_lat, min_lon, max_lon);
    INSERT INTO positions SELECT id, gps_lat, gps_lat, gps_lon, gps_lon FROM images WHERE gps_lat IS NOT NULL;
    CREATE TRIGGER positions_added AFTER INSERT ON images WHEN NEW.gps_lat IS NOT NULL
        BEGIN INSERT INTO positions VALUES (NEW.id, NEW.gps_lat, NEW.gps_lat, NEW.gps_lon, NEW.gps_lon); END;
    CREATE TRIGGER positions_moved AFTER UPDATE OF gps_lat, gps_lon ON images
        BEGIN
            DELETE FROM positions WHERE id = OLD.id;
            INSERT INTO positions SELECT NEW.id, NEW.gps_lat, NEW.gps_lat, NEW.gps_lon, NEW.gps_lon
                WHERE NEW.gps_lat IS NOT NULL;
        END;
    CREATE TRIGGER positions_deleted AFTER DELETE ON images BEGIN DELETE FROM positions WHERE id = OLD.id; END;
    """,
    # 7: the R*Tree holds indexed pictures only, so a "near:" term reads it alone: joining each of a box's
    # 12k rows to its images row cost 30 ms at 1M
    """
    DROP TRIGGER positions_added;
    DROP TRIGGER positions_moved;
    DELETE FROM positions WHERE id NOT IN (SELECT id FROM images WHERE status = 'indexed');
    CREATE TRIGGER positions_added AFTER INSERT ON images WHEN NEW.gps_lat IS NOT NULL AND NEW.status = 'indexed'
        BEGIN INSERT INTO positions VALUES (NEW.id, NEW.gps_lat, NEW.gps_lat, NEW.gps_lon, NEW.gps_lon); END;
    CREATE TRIGGER positions_moved AFTER UPDATE OF gps_lat, gps_lon, status ON images
        BEGIN
            DELETE FROM positions WHERE id = OLD.id;
            INSERT INTO positions SELECT NEW.id, NEW.gps_lat, NEW.gps_lat, NEW.gps_lon, NEW.gps_lon
                WHERE NEW.gps_lat IS NOT NULL AND NEW.status = 'indexed';
        END;
    """,
    # 8: image ids are never reused. SQLite gives a new row max(id) + 1, so deleting the newest picture and
    # adding another reused its id; a crash between that commit and the FAISS file's save left the old vector
    # under the new picture's id, which a reconcile by ids cannot see
    """
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters VALUES ('image_id', COALESCE((SELECT MAX(id) FROM images), 0));
    CREATE TRIGGER image_id_used AFTER INSERT ON images
        WHEN NEW.id > (SELECT value FROM counters WHERE name = 'image_id')
        BEGIN UPDATE counters SET value = NEW.id WHERE name = 'image_id'; END;
    """,
    # 9: the vectors at float16 in an ordinary table (Python: moved in steps)
    vectors_at_half_size,
    # 10: pictures dropped on the page to search by, kept so that a link naming one works after a restart (their
    # vectors only, each with the model's fingerprint; indexing/dropped.py)
    """
    CREATE TABLE dropped (
        digest TEXT NOT NULL,
        space TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        vector BLOB NOT NULL,
        used_at REAL NOT NULL,
        PRIMARY KEY (digest, space)
    );
    """,
    # 11: what the catalog was made with, by name: first its content hash (indexing/hashing.py). A catalog with
    # pictures already keeps BLAKE2b, its rows' hash; one without takes the new catalogs' (Catalog.__init__)
    """
    CREATE TABLE facts (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO facts SELECT 'hash', 'blake2b-128' WHERE EXISTS (SELECT 1 FROM images);
    """,
]

# 1: before real-device files were read right; 2: container orientation, XMP, offsets, RAW, colour (issue 9).
# Older rows are refreshed on the next run: HEIF/AVIF re-embedded (their pixels were turned), others re-read.
META_VERSION = 2
# taken_sort: the moment taken in UTC seconds (the local time read as UTC where the offset is unknown), the
# timeline's and the date sort's key; undated pictures sort last
UNDATED = -1e15
# columns of the metadata a file's bytes, its companions and sidecars give (rewritten when a sidecar changes)
METADATA_COLUMNS = (
    "format", "width", "height", "orientation", "orientation_applied", "taken_at", "taken_offset", "taken_utc",
    "taken_sort", "camera_make", "camera_model", "gps_lat", "gps_lon", "gps_alt", "rating", "title", "description",
    "keywords", "sources", "companions", "sidecars", "extra_sig", "notes", "meta_version",
    "place_city", "place_region", "place_country_code", "place_distance_km", "place_detail", "place_version",
)  # fmt: skip
