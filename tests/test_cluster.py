"""Past one machine (issue 14): `styleseek index --ray` in Ray's local mode with the tiny models writes Parquet
shards; `styleseek import` makes of them the catalog the single-machine pipeline makes of the same files
(vectors, metadata from exiftool-tagged files, errors, thumbnails), and the searches agree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from services import StyleSeek
from settings import Settings
from tests.imagegen import make_collection

pytestmark = pytest.mark.slow  # a Ray start: ~10 s


def library(root: Path) -> Path:
    make_collection(root, 10)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    tagged = root / "tagged.jpg"
    shutil.copy(next(root.rglob("*.jpg")), tagged)
    if shutil.which("exiftool"):  # GPS and a date written by the real tool, read back by both paths
        subprocess.run(["exiftool", "-q", "-overwrite_original", "-GPSLatitude=48.8584", "-GPSLatitudeRef=N",
                        "-GPSLongitude=2.2945", "-GPSLongitudeRef=E", "-DateTimeOriginal=2021:06:05 14:03:00",
                        str(tagged)], check=True)  # fmt: skip
    return root


def test_ray_shards_imported_make_the_same_catalog_as_the_pipeline(tmp_path: Path, tiny_models: Path) -> None:
    lib = library(tmp_path / "lib")

    def settings(name: str) -> Settings:
        return Settings(data_dir=tmp_path / name, models_dir=tiny_models, batch_size=4, thumbnail_size=64, device="cpu")

    single = StyleSeek(settings("single"))
    single.index_folders([lib])
    env = {"HF_HUB_OFFLINE": "1", "STYLESEEK_MODELS_DIR": str(tiny_models), "STYLESEEK_DEVICE": "cpu",
           "STYLESEEK_BATCH_SIZE": "4", "STYLESEEK_THUMBNAIL_SIZE": "64", "PATH": "/usr/bin:/bin"}  # fmt: skip
    common = ["--data-dir", str(tmp_path / "cluster"), "--json"]
    cli = [sys.executable, "-m", "cli"]
    done = subprocess.run([*cli, "index", str(lib), "--ray", "local", "--shards", str(tmp_path / "shards"),
                           "--ray-workers", "2", *common], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).parents[1])  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    ran = json.loads(done.stdout)
    assert ran["files"] == 12 and ran["workers"] == 2
    assert list((tmp_path / "shards").glob("*.parquet")) and (tmp_path / "shards" / "manifest.json").is_file()
    done = subprocess.run([*cli, "import", str(tmp_path / "shards"), *common], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).parents[1])  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {"indexed": 11, "failed": 1, "unchanged": 0, "replaced": 0}

    cluster = StyleSeek(settings("cluster"))
    a = {r.path: r for r in map(single.catalog.get, single.catalog.vector_ids("content").tolist())}
    b = {r.path: r for r in map(cluster.catalog.get, cluster.catalog.vector_ids("content").tolist())}
    assert sorted(a) == sorted(b) and len(a) == 11
    for path, ra in a.items():
        rb = b[path]
        assert (ra.hash, ra.width, ra.height, ra.taken_at, ra.gps, ra.place_city) == (
            rb.hash, rb.width, rb.height, rb.taken_at, rb.gps, rb.place_city)  # fmt: skip
        for space in single.encoders:
            va, vb = single.vector_index(space).reconstruct(ra.id), cluster.vector_index(space).reconstruct(rb.id)
            assert va is not None and vb is not None
            assert float(np.dot(va, vb)) > 0.9999, (path, space)
        assert cluster.thumbnail(rb) == single.thumbnail(ra)
    if shutil.which("exiftool"):
        tagged = b[str(lib / "tagged.jpg")]
        assert tagged.taken_at == "2021-06-05T14:03:00" and tagged.place_city == "Paris"
    broken = cluster.catalog.get_by_path(str(lib / "broken.jpg"))
    assert broken is not None and broken.status == "error" and broken.error
    for query in ("red squares", "a blue circle"):
        assert [h.image.path for h in single.search(query, k=5)] == [h.image.path for h in cluster.search(query, k=5)]
    # importing again changes nothing; a shard folder without its manifest is refused with a message
    assert cluster.import_shards(tmp_path / "shards") == {"indexed": 0, "failed": 0, "unchanged": 12, "replaced": 0}
    (tmp_path / "shards" / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        cluster.import_shards(tmp_path / "shards")
