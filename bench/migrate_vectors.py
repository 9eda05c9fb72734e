"""Migration 9 on an older catalog (issue 14's follow-up): a catalog as versions before it wrote one (the
migrations' SQL up to 8, a WITHOUT ROWID vectors table of float32 blobs, the three real sizes: 512 content,
768 style, 2,816 texture), then its first opening by today's Catalog: the time the move and the VACUUM take,
the file's size before and after, and the vectors read back against the float32 ones.

    python bench/migrate_vectors.py [--images 100000] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch  # noqa: E402
from indexing.catalog import Catalog  # noqa: E402
from indexing.schema import MIGRATIONS  # noqa: E402

DIMS = {"content": 512, "style": 768, "texture": 2816}


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def old_catalog(path: Path, n: int) -> None:
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    for sql in MIGRATIONS[:8]:
        c.executescript(sql)
    c.execute("INSERT INTO folders(path, added_at) VALUES ('/p', 1.0)")
    for s, d in DIMS.items():
        c.execute("INSERT INTO spaces(name, dim, model_fingerprint) VALUES (?, ?, 'bench')", (s, d))
    rng = np.random.default_rng(0)
    for start in range(0, n, 10_000):
        m = min(10_000, n - start)
        c.execute("BEGIN")
        c.executemany(
            "INSERT INTO images(id, folder_id, path, size, mtime, hash, status, indexed_at)"
            " VALUES (?, 1, ?, 1, 1.0, ?, 'indexed', 1.0)",
            [(start + i + 1, f"/p/{start + i}.jpg", f"{start + i:032x}") for i in range(m)],
        )
        for s, d in DIMS.items():
            v = unit(rng, m, d)
            rows = [(start + i + 1, s, v[i].tobytes()) for i in range(m)]
            c.executemany("INSERT INTO vectors VALUES (?, ?, ?)", rows)
        c.execute("COMMIT")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.execute("PRAGMA user_version=8")
    c.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    tmp = scratch("migrate-vectors-")
    db = tmp / "catalog.sqlite3"
    t = time.monotonic()
    old_catalog(db, args.images)
    out: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                 "images": args.images, "write_old_s": round(time.monotonic() - t, 1),
                 "old_file_gb": round(db.stat().st_size / 1e9, 3)}  # fmt: skip
    print(json.dumps(out), flush=True)
    t = time.monotonic()
    cat = Catalog(db)
    out["first_opening_s"] = round(time.monotonic() - t, 1)
    cat.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out["new_file_gb"] = round(db.stat().st_size / 1e9, 3)
    out["user_version"] = cat.conn.execute("PRAGMA user_version").fetchone()[0]
    rng = np.random.default_rng(0)
    first = {s: unit(rng, min(10_000, args.images), d) for s, d in DIMS.items()}
    errors = {}
    for s, d in DIMS.items():
        ids, got = cat.load_vectors(s, np.arange(1, 101), d)
        errors[s] = float(np.abs(got - first[s][:100]).max())
    out["max_abs_error_first_100"] = errors
    print(json.dumps(out), flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
