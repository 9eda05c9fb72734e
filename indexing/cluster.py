"""Embedding on a Ray cluster (the `cluster` extra): the folders' files as a Ray Dataset, embedded by a pool of
Embedder actors (indexing/shards.py; one a GPU, or one a CPU slot), written as Parquet shards that
`styleseek import` turns into a catalog and its indices. Ray is imported only here, only when asked for.

    address None or "local": a Ray started in this process on this machine (the tests, a big workstation);
    "auto" or "ray://head:10001": an existing cluster, whose nodes have StyleSeek, its models and the files
    at the same paths (a shared file system), and write access to the output folder (e.g. NFS or s3://).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexing.hashing import HashKind
from indexing.scan import iter_image_files
from indexing.shards import Embedder, file_item, write_manifest
from models.base import Encoder
from settings import Settings

log = logging.getLogger(__name__)


def index_on_ray(
    roots: list[Path],
    out: Path,
    settings: Settings,
    make_encoders: Callable[[Settings], dict[str, Encoder]],
    kind: HashKind,
    address: str | None = None,
    workers: int = 0,
    gpus_per_worker: float = 0.0,
) -> dict[str, Any]:
    """Embed every picture under the roots into Parquet shards in `out`; returns counts and timings.
    workers: actors in the pool (0: Ray's CPU count, or one a GPU with gpus_per_worker); kind: the content hash
    of the catalog they will be imported into."""
    try:
        import ray
    except ImportError as e:
        raise RuntimeError("Ray is not installed: pip install -e '.[cluster]' (see README, Scaling)") from e
    t0 = time.monotonic()
    skipped: Counter = Counter()
    items = []
    for root in roots:
        folder = str(Path(root).expanduser().absolute())
        items += [file_item(folder, e) for e in iter_image_files(Path(folder), skipped)]
    if not items:
        raise ValueError(f"no pictures under {', '.join(map(str, roots))}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("*.parquet")):
        raise FileExistsError(f"{out} holds shards already: import them, or choose an empty folder")
    started = not ray.is_initialized()
    if started:
        local = address in (None, "local")
        ray.init(address=None if local else address, include_dashboard=False, log_to_driver=False,
                 **({"num_cpus": workers or None} if local else {}))  # fmt: skip
    try:
        if not workers:
            gpus = ray.cluster_resources().get("GPU", 0)
            workers = int(gpus / gpus_per_worker) if gpus_per_worker else int(ray.cluster_resources()["CPU"])
        ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items) // settings.batch_size, 4096)))
        ds = ds.map_batches(
            Embedder,
            fn_constructor_args=(settings, make_encoders, kind),
            batch_size=settings.batch_size,
            batch_format="pyarrow",
            concurrency=max(1, workers),
            num_cpus=0 if gpus_per_worker else 1,
            num_gpus=gpus_per_worker,
        )
        ds.write_parquet(str(out))
    finally:
        if started:
            ray.shutdown()
    write_manifest(out, make_encoders(settings), len(items), kind)  # after the shards: its presence says they are whole
    return {"files": len(items), "workers": workers, "seconds": round(time.monotonic() - t0, 1),
            "skipped_by_kind": dict(skipped), "shards": str(out)}  # fmt: skip
