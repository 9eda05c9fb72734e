"""Server timings of the photo-app views at 100k pictures, each beside a baseline measured in the same run.

- home page, first screen (the whole page with the first 60 timeline tiles) at 100k pictures;
- the next page of the timeline by keyset (page 2 and page 1,600 of 1,667), against the same page read by
  OFFSET, which costs more the deeper it goes;
- the viewer's picture: the cached 2048 px rendition of a 12-MP JPEG against rendering it from the original;
- search by a dropped 12-MP photo (POST /picture: decode, content and style embedding with the full-size
  random-initialised CLIP ViT-B/16 and ViT-L/14 towers, then the fused search over 100k vectors per space),
  against searching by an indexed picture's stored vectors (`like: #id`), which skips decoding and embedding.

Requests go through the real app in-process (Starlette's TestClient: routing, the services, rendering; no
socket). Catalog rows and vectors for the 100k pictures are written directly (random unit vectors, dates
spread over 12 years): the queries and pages are the real ones.

    python bench/server.py [--images 100000] [--repeat 15] [--out bench/results/DATE-server-2core.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import make_photo  # noqa: E402
from bench.scratch import scratch  # noqa: E402
from models.tiny import write_full_random_models  # noqa: E402
from settings import Settings  # noqa: E402

HX = {"HX-Request": "true"}


def median_ms(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def fill_catalog(svc, n: int, dims: dict[str, int]) -> None:  # noqa: ANN001
    """n indexed pictures with dates over 12 years (a tenth undated) and a random unit vector per space."""
    rng = np.random.default_rng(0)
    start = datetime(2014, 1, 1, tzinfo=timezone.utc).timestamp()
    folder = svc.catalog.add_folder("/bench/library")
    with svc.catalog.transaction() as t:
        rows = []
        for i in range(n):
            dated = i % 10 != 0
            ts = start + float(rng.uniform(0, 12 * 365 * 86400)) if dated else None
            taken = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") if ts else None
            rows.append(
                (folder, f"/bench/library/{i // 1000:03d}/IMG_{i:06d}.jpg", 3_000_000, 0.0, f"{i:032x}",
                 "indexed", "JPEG", 4000, 3000, taken, ts if ts else -1e15, time.time())
            )  # fmt: skip
        t.executemany(
            "INSERT INTO images(folder_id, path, size, mtime, hash, status, format, width, height, taken_at,"
            " taken_sort, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    ids = np.array([r[0] for r in svc.catalog.conn.execute("SELECT id FROM images ORDER BY id")], np.int64)
    for space, dim in dims.items():
        vecs = rng.standard_normal((len(ids), dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        svc.vector_index(space).add(ids, vecs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from starlette.testclient import TestClient

    from app import create_app
    from services import StyleSeek

    tmp = scratch("styleseek-server-bench-")
    t0 = time.perf_counter()
    write_full_random_models(tmp / "models", keys=("content", "style", "texture"))
    settings = Settings(data_dir=tmp / "data", models_dir=tmp / "models", device="cpu", thumbnail_size=256)
    svc = StyleSeek(settings)
    for space, enc in svc.encoders.items():
        enc.load()
        svc.catalog.check_space(space, enc.dim, enc.fingerprint)
    fill_catalog(svc, args.images, {s: e.dim for s, e in svc.encoders.items()})
    # one real 12-MP photo, indexed, for the viewer
    photo = Path(make_photo((7, str(tmp / "IMG_0007.jpg"))))
    real = tmp / "real"
    real.mkdir()
    photo.rename(real / photo.name)
    photo = real / photo.name
    svc.index_folders([real])
    row = svc.image_by_path(photo)
    print(f"setup {time.perf_counter() - t0:.0f} s: {args.images:,} pictures, models loaded", file=sys.stderr)

    client = TestClient(create_app(settings, services=svc), base_url="http://127.0.0.1")
    r = args.repeat
    out: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.processor() or ''}".strip(", "),
        "images": args.images,
        "repeat": r,
        "backends": {space: enc.backend.value for space, enc in svc.encoders.items()},
    }

    # home: the whole page; its first screen is the first 60 tiles
    home = client.get("/")
    assert home.status_code == 200 and home.text.count('class="result-card photo-tile') == 60
    out["home_page_ms"] = median_ms(lambda: client.get("/"), r)

    # timeline pages by keyset, and the same pages by OFFSET
    cursors = [""]
    after = ""
    for _ in range(args.images // 60):
        _, after = svc.timeline(after)
        if not after:
            break
        cursors.append(after)
    deep = len(cursors) - 8
    out["timeline_pages"] = len(cursors)
    out["timeline_page2_ms"] = median_ms(lambda: client.get("/timeline", params={"after": cursors[1]}, headers=HX), r)
    out["timeline_deep_page"] = deep + 1
    out["timeline_deep_ms"] = median_ms(lambda: client.get("/timeline", params={"after": cursors[deep]}, headers=HX), r)
    q = (
        "SELECT id, path, taken_at FROM images WHERE status='indexed' ORDER BY taken_sort DESC, id DESC "
        "LIMIT 60 OFFSET ?"
    )
    conn = svc.catalog.conn
    out["offset_page2_query_ms"] = median_ms(lambda: conn.execute(q, (60,)).fetchall(), r)
    out["offset_deep_query_ms"] = median_ms(lambda: conn.execute(q, (60 * deep,)).fetchall(), r)
    keyset = "SELECT id, path, taken_at FROM images WHERE status='indexed' AND (taken_sort, id) < (?, ?) " \
        "ORDER BY taken_sort DESC, id DESC LIMIT 60"  # fmt: skip
    sort, iid = cursors[deep].split(":")
    out["keyset_deep_query_ms"] = median_ms(lambda: conn.execute(keyset, (float(sort), int(iid))).fetchall(), r)

    # the viewer's picture: rendered from the original, then from the cached rendition
    def uncached() -> None:
        for p in svc.thumbs.renditions.rglob("*.jpg"):
            p.unlink()
        assert client.get(f"/full/{row.id}").status_code == 200

    out["viewer_render_ms"] = median_ms(uncached, max(3, r // 3))
    client.get(f"/full/{row.id}")
    out["viewer_cached_ms"] = median_ms(lambda: client.get(f"/full/{row.id}"), r)
    out["viewer_dialog_ms"] = median_ms(lambda: client.get("/preview", params={"id": row.id}, headers=HX), r)

    # search by a dropped 12-MP photo, against search by an indexed picture's stored vectors
    dropped = make_photo((11, str(tmp / "dropped.jpg")))
    data = Path(dropped).read_bytes()

    def drop_and_search() -> None:
        svc.pictures.clear()  # each time a new picture: decode and embed again
        ref = client.post("/picture", files={"file": ("dropped.jpg", data, "image/jpeg")}).json()["ref"]
        assert client.get("/search", params={"q": f"like: {ref}", "k": "24"}, headers=HX).status_code == 200

    drop_and_search()  # warm-up: first forward passes
    out["dropped_search_ms"] = median_ms(drop_and_search, max(3, r // 3))
    t = time.perf_counter()
    ref = client.post("/picture", files={"file": ("dropped.jpg", data, "image/jpeg")}).json()["ref"]
    out["dropped_embed_cached_ms"] = 1000 * (time.perf_counter() - t)
    out["dropped_search_only_ms"] = median_ms(
        lambda: client.get("/search", params={"q": f"like: {ref}", "k": "24"}, headers=HX), r
    )
    out["indexed_picture_search_ms"] = median_ms(
        lambda: client.get("/search", params={"q": f"like: #{row.id}", "k": "24"}, headers=HX), r
    )
    out["text_search_ms"] = median_ms(
        lambda: client.get("/search", params={"q": "a red boat", "k": "24"}, headers=HX), r
    )
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
