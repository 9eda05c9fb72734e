"""A million pictures on one machine (issue 14): synthetic catalog rows and clustered vectors for the three
spaces (512 content, 768 style, 2,816 texture), grown to each size in turn in one data folder; at each size,
in fresh processes: building the approximate indices, start to first answer, resident memory, a 1-term and a
5-term fused query through the real Searcher, their recall@50 against the exact fused ranking computed by
brute force over every vector, and the filters' queries. At the end, adding 10k pictures to the largest.

    python bench/scale.py [--sizes 100000 300000 1000000] [--out results.json] [--data /tmp/scale]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexing.catalog import Catalog, vector_blob  # noqa: E402

DIMS = {"content": 512, "style": 768, "texture": 2816}
CLUSTERS = 256
CAMERAS = [f"Model {i}" for i in range(30)]
# towns on a few latitudes, as the world has them: a latitude band around Paris holds Vancouver, Munich too
TOWNS = [(48.85, 2.35), (49.28, -123.12), (48.14, 11.58), (47.92, 106.92), (45.46, 9.19), (40.71, -74.0),
         (40.42, -3.7), (35.68, 139.69), (51.5, -0.12), (-33.87, 151.2)]  # fmt: skip


def centres(space: str) -> np.ndarray:
    rng = np.random.default_rng(hash(space) % 2**32 if space != "content" else 1)
    return rng.standard_normal((CLUSTERS, DIMS[space])).astype(np.float32)


def vectors(space: str, start: int, n: int, spread: float = 0.9) -> np.ndarray:
    """Clustered unit vectors for pictures start..start+n: each picture's cluster is the same in every space."""
    rng = np.random.default_rng(start * 7 + DIMS[space])
    cluster = np.random.default_rng(start).integers(0, CLUSTERS, n)
    x = centres(space)[cluster] + spread * rng.standard_normal((n, DIMS[space])).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def grow(cat: Catalog, upto: int) -> float:
    """Add synthetic pictures (rows with dates, cameras, 60% placed; and their three vectors) up to `upto`."""
    t0 = time.monotonic()
    have = cat.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    folder = cat.add_folder("/synthetic")
    for space, d in DIMS.items():
        cat.check_space(space, d, "synthetic")
    for start in range(have, upto, 10_000):
        n = min(10_000, upto - start)
        rng = np.random.default_rng(start)
        towns = np.array(TOWNS)[rng.integers(0, len(TOWNS), n)]
        lat = towns[:, 0] + rng.normal(0, 0.3, n)
        lon = towns[:, 1] + rng.normal(0, 0.3, n)
        placed = rng.random(n) < 0.6
        taken = 1.0e9 + rng.random(n) * 6.3e8  # 2001-2021
        rows = [(folder, f"/synthetic/{start + i:07d}.jpg", 1, 1.0, f"{start + i:032x}", "indexed",
                 float(lat[i]) if placed[i] else None, float(lon[i]) if placed[i] else None,
                 CAMERAS[(start + i) % 30], float(taken[i]), time.time()) for i in range(n)]  # fmt: skip
        with cat.transaction() as t:
            first = t.execute("SELECT COALESCE(MAX(id), 0) FROM images").fetchone()[0] + 1
            t.executemany(
                "INSERT INTO images(id, folder_id, path, size, mtime, hash, status, gps_lat, gps_lon, camera_model,"
                " taken_sort, indexed_at) VALUES (NULL,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            ids = range(first, first + n)
            for space in DIMS:
                v = vectors(space, start, n)
                t.executemany(
                    "INSERT INTO vectors(image_id, space, vector) VALUES (?,?,?)",
                    ((i, space, vector_blob(v[j])) for j, i in enumerate(ids)),
                )
    return time.monotonic() - t0


def child(data: Path, index_dir: Path, threshold: int, nprobe: int, queries: int) -> dict:
    """One fresh process: open the three indices, answer, measure."""
    t0 = time.monotonic()
    from indexing.vectors import VectorIndex, set_search_threads
    from search.engine import Part, Searcher

    set_search_threads(0)
    cat = Catalog(data / "catalog.sqlite3")
    indices = {s: VectorIndex(index_dir / f"{s}.faiss", s, d, threshold, nprobe) for s, d in DIMS.items()}
    opened = {s: idx.load_and_reconcile(cat) for s, idx in indices.items()}
    searcher = Searcher(cat, indices.__getitem__, {})
    rng = np.random.default_rng(99)

    def q(space: str) -> np.ndarray:
        v = centres(space)[rng.integers(0, CLUSTERS)] + 0.9 * rng.standard_normal(DIMS[space]).astype(np.float32)
        return v / np.linalg.norm(v)

    def one() -> list[Part]:
        return [Part("a", "content", 1.0, q("content"))]

    def five() -> list[Part]:
        return [Part("a", "content", 1.0, q("content")), Part("b", "content", 0.5, q("content")),
                Part("c", "style", 0.9, q("style")), Part("d", "style", 0.6, q("style")),
                Part("e", "content", -0.5, q("content"))]  # fmt: skip

    first = searcher.fuse(one(), 50)
    start_s = time.monotonic() - t0
    out = {
        "start_to_first_answer_s": round(start_s, 2),
        "opened": opened,
        "approximate": {s: idx.approximate for s, idx in indices.items()},
        "index_bytes_per_image": sum(i.resident_bytes() for i in indices.values()) / max(1, indices["content"].ntotal),
        "rss_after_first_answer_mb": round(rss_mb(), 1),
    }  # fmt: skip
    assert first
    runs: dict[str, list] = {"one": [], "five": []}
    for name, make in (("one", one), ("five", five)):
        for _ in range(queries):
            parts = make()
            t = time.perf_counter()
            hits = searcher.fuse(parts, 50)
            runs[name].append(((time.perf_counter() - t) * 1e3, [h.image.id for h in hits], parts))
    for name, r in runs.items():
        ms = [x[0] for x in r]
        out[f"{name}_term_ms"] = {
            "median": round(float(np.median(ms)), 1),
            "p95": round(float(np.percentile(ms, 95)), 1),
        }
    out["rss_after_queries_mb"] = round(rss_mb(), 1)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["recall_at_50"] = recall(cat, runs)
    out["filters_ms"] = filters(cat)
    return out


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def recall(cat: Catalog, runs: dict, dims: dict[str, int] = DIMS) -> dict:
    """The exact fused top 50 by brute force over every stored vector (read in chunks), against the Searcher's."""
    every = [(name, parts, set(hits)) for name, r in runs.items() for _, hits, parts in r]
    all_ids = cat.vector_ids("content")
    best: list[list[tuple[float, int]]] = [[] for _ in every]
    for c in range(0, len(all_ids), 50_000):
        chunk = all_ids[c : c + 50_000]
        vecs = {s: cat.load_vectors(s, chunk, dims[s]) for s in {p.space for _, parts, _ in every for p in parts}}
        for j, (_, parts, _) in enumerate(every):
            score = np.zeros(len(chunk), np.float32)
            for p in parts:
                ids, v = vecs[p.space]
                assert np.array_equal(ids, chunk)
                score += p.weight * (v @ p.vector)
            score = np.round(score / sum(p.weight for p in parts if p.weight > 0), 6)
            top = np.argsort(-score, kind="stable")[:50]
            best[j] = sorted(best[j] + [(-float(score[i]), int(chunk[i])) for i in top])[:50]
    out: dict[str, list] = {}
    for (name, _, hits), b in zip(every, best, strict=True):
        out.setdefault(name, []).append(len({i for _, i in b} & hits) / 50)
    return {k: {"mean": round(float(np.mean(v)), 4), "min": round(float(np.min(v)), 4)} for k, v in out.items()}


def filters(cat: Catalog) -> dict:
    def timed(fn) -> float:  # noqa: ANN001
        fn()
        t = time.perf_counter()
        for _ in range(5):
            fn()
        return round((time.perf_counter() - t) / 5 * 1e3, 2)

    c = cat.conn
    return {
        "near_5km_rtree": timed(lambda: cat.ids_in_area("city", "FR", None, 48.85, 5, 20_000, lon=2.35)),
        "near_5km_latitude_band_before": timed(lambda: c.execute(
            "SELECT id FROM images WHERE status='indexed' AND gps_lat BETWEEN ? AND ? LIMIT 20000",
            (48.85 - 0.18, 48.85 + 0.18)).fetchall()),
        "one_year_by_timeline_index": timed(lambda: c.execute(
            "SELECT id FROM images WHERE status='indexed' AND taken_sort BETWEEN ? AND ? LIMIT 20000",
            (1.4e9, 1.4e9 + 3.15e7)).fetchall()),
        "one_camera_by_index": timed(lambda: c.execute(
            "SELECT id FROM images WHERE camera_model=? LIMIT 20000", ("Model 7",)).fetchall()),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    ap.add_argument("--data", type=Path, default=Path("/tmp/styleseek-scale"))
    ap.add_argument("--threshold", type=int, default=100_000)
    ap.add_argument("--nprobe", type=int, default=32)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--index-dir", type=Path)
    ap.add_argument("--flat-upto", type=int, default=300_000, help="exact indices measured too up to this size")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--filters-only", action="store_true")
    args = ap.parse_args()
    if args.filters_only:  # the filters' queries again on the data as it is (after a catalog migration)
        print(json.dumps({"images": Catalog(args.data / "catalog.sqlite3").conn.execute("SELECT COUNT(*) FROM images")
                          .fetchone()[0], "filters_ms": filters(Catalog(args.data / "catalog.sqlite3"))}))  # fmt: skip
        return
    if args.child:
        print(json.dumps(child(args.data, args.index_dir or args.data, args.threshold, args.nprobe, args.queries)))
        return
    args.data.mkdir(parents=True, exist_ok=True)
    cat = Catalog(args.data / "catalog.sqlite3")
    out: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                 "threshold": args.threshold, "nprobe": args.nprobe, "sizes": {}}  # fmt: skip

    def run_child(threshold: int, index_dir: Path) -> dict:
        index_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, __file__, "--child", "--data", str(args.data), "--index-dir", str(index_dir),
               "--threshold", str(threshold), "--nprobe", str(args.nprobe), "--queries", str(args.queries)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    def drop_files(folder: Path) -> None:
        for p in folder.glob("*.faiss"):
            p.unlink()
            p.with_suffix(".json").unlink(missing_ok=True)

    for n in args.sizes:
        grew = grow(cat, n)
        drop_files(args.data)  # each size builds its own indices from SQLite (and is timed doing it)
        t = time.monotonic()
        first = run_child(args.threshold, args.data)
        build_s = time.monotonic() - t
        second = run_child(args.threshold, args.data)  # a plain start: the files are current
        row = {"grow_s": round(grew, 1), "first_open_with_build_s": round(build_s, 1), "first_open": first,
               "start": second, "sqlite_gb": round((args.data / "catalog.sqlite3").stat().st_size / 1e9, 2),
               "faiss_files_gb": round(sum(p.stat().st_size for p in args.data.glob("*.faiss")) / 1e9, 2)}  # fmt: skip
        if n <= args.flat_upto:  # the exact indices on the same data, for the threshold
            drop_files(args.data / "flat")
            run_child(0, args.data / "flat")
            row["exact"] = run_child(0, args.data / "flat")
            drop_files(args.data / "flat")
        out["sizes"][n] = row
        print(n, json.dumps(row), flush=True)
    # 10k more pictures into the largest: the next start adds them to the approximate indices, no rebuild
    grow(cat, args.sizes[-1] + 10_000)
    t = time.monotonic()
    out["add_10k"] = {"open_s": round(time.monotonic() - t, 1), **run_child(args.threshold, args.data)}
    out["add_10k"]["open_s"] = round(time.monotonic() - t, 1)
    print("add 10k", json.dumps(out["add_10k"]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
