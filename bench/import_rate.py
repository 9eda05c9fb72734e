"""How fast `styleseek import` turns Parquet shards into a catalog (issue 14): synthetic shard rows (three
vectors of the real sizes, a metadata row with a position, a 9 KB thumbnail) written with pyarrow in the
shards' schema, then imported into a fresh catalog; rows a second, and the first index opening after it.

    python bench/import_rate.py [--rows 50000] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch  # noqa: E402
from indexing.catalog import Catalog  # noqa: E402
from indexing.shards import MANIFEST, SHARD_VERSION, import_shards, schema  # noqa: E402
from indexing.thumbs import ThumbCache  # noqa: E402
from indexing.vectors import VectorIndex  # noqa: E402

DIMS = {"content": 512, "style": 768, "texture": 2816}


def write_shards(folder: Path, rows: int, per_shard: int = 10_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    thumb = b"RIFF" + rng.bytes(9000)
    for start in range(0, rows, per_shard):
        n = min(per_shard, rows - start)
        vecs = {s: rng.standard_normal((n, d)).astype(np.float32) for s, d in DIMS.items()}
        batch = []
        for i in range(n):
            meta = {"format": "JPEG", "width": 4000, "height": 3000, "taken_at": "2021-06-05T14:03:00",
                    "taken_sort": 1.6229e9 + i, "camera_model": "Model 7", "gps_lat": 48.85 + rng.normal(0, 0.3),
                    "gps_lon": 2.35 + rng.normal(0, 0.3), "meta_version": 2}  # fmt: skip
            row = {"root": "/photos", "path": f"/photos/{start + i:08d}.jpg", "size": 3_000_000, "mtime": 1.0,
                   "companions": "[]", "sidecars": "[]", "extra_sig": None, "hash": f"{start + i:032x}",
                   "status": "indexed", "error": None, "row": json.dumps(meta), "thumb": thumb}  # fmt: skip
            for s, v in vecs.items():
                row[f"vec_{s}"] = (v[i] / np.linalg.norm(v[i])).tobytes()
            batch.append(row)
        pq.write_table(pa.Table.from_pylist(batch, schema=schema(list(DIMS))), folder / f"{start:09d}.parquet")
    spaces = {s: {"dim": d, "fingerprint": "synthetic"} for s, d in DIMS.items()}
    (folder / MANIFEST).write_text(json.dumps({"version": SHARD_VERSION, "files": rows, "spaces": spaces}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    tmp = scratch("import-rate-")
    (tmp / "shards").mkdir()
    write_shards(tmp / "shards", args.rows)
    cat = Catalog(tmp / "catalog.sqlite3")
    t = time.monotonic()
    counts = import_shards(cat, ThumbCache(tmp / "thumbs"), tmp / "shards")
    seconds = time.monotonic() - t
    t = time.monotonic()
    for s, d in DIMS.items():  # the exact indices follow SQLite on their first opening (below the threshold)
        VectorIndex(tmp / f"{s}.faiss", s, d).load_and_reconcile(cat)
    out = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
           "rows": args.rows, "counts": counts, "import_s": round(seconds, 1),
           "rows_per_s": round(args.rows / seconds), "indices_open_s": round(time.monotonic() - t, 1),
           "shards_mb": round(sum(p.stat().st_size for p in (tmp / "shards").glob("*.parquet")) / 1e6, 1)}  # fmt: skip
    print(json.dumps(out))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
