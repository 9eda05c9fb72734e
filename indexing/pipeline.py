"""The indexing pipeline: scan, plan (new / changed / moved / deleted), decode in a worker pool while the
model encodes the previous batch, and commit each batch to SQLite in one transaction.

A crash or Ctrl-C loses at most the batch in flight: SQLite holds every committed batch, and the FAISS
file is reconciled with it on the next start.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexing.catalog import Catalog
from indexing.imageio import ImageError, content_hash, decode, thumbnail_bytes
from indexing.progress import Progress
from indexing.scan import FileEntry, iter_image_files
from indexing.thumbs import ThumbCache
from indexing.vectors import VectorIndex
from models.base import Encoder
from settings import Settings

log = logging.getLogger(__name__)
SPACE = "content"


@dataclass
class Job:
    entry: FileEntry
    replace_id: int | None = None  # the row of the same path whose bytes changed
    old_hash: str | None = None


@dataclass
class Outcome:
    job: Job
    kind: str  # ready | failed | moved | touched
    hash: str | None = None
    error: str | None = None
    prepared: Any = None
    row: dict = field(default_factory=dict)
    moved_id: int | None = None


@dataclass
class RunReport:
    folders: list[str]
    total: int = 0
    indexed: int = 0
    unchanged: int = 0
    failed: int = 0
    moved: int = 0
    removed: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    errors: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def bounded_map(
    pool: ThreadPoolExecutor, fn: Callable[[Job], Outcome], items: Iterable[Job], ahead: int, cancel: threading.Event
) -> Iterator[Outcome]:
    """pool.map in order with at most `ahead` jobs in flight, so memory stays flat on huge folders."""
    it = iter(items)
    pending: deque[Future[Outcome]] = deque()
    for job in it:
        pending.append(pool.submit(fn, job))
        if len(pending) >= ahead:
            break
    try:
        while pending:
            out = pending.popleft().result()
            if not cancel.is_set():
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(fn, nxt))
            yield out
    finally:
        for f in pending:
            f.cancel()


class Indexer:
    def __init__(
        self, settings: Settings, catalog: Catalog, encoder: Encoder, index: VectorIndex, thumbs: ThumbCache
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.encoder = encoder
        self.index = index
        self.thumbs = thumbs
        self._moved_lock = threading.Lock()

    def _workers(self) -> int:
        return self.settings.decode_workers or max(1, min(8, os.cpu_count() or 1))

    # worker side ------------------------------------------------------------------------------------
    def _process(self, job: Job, moved_pool: dict[str, list[int]], min_side: int) -> Outcome:
        e = job.entry
        try:
            with open(e.path, "rb") as f:
                data = f.read()
        except OSError as err:
            return Outcome(job, "failed", error=f"unreadable: {err.strerror or err}")
        if not data:
            return Outcome(job, "failed", error="empty file (0 bytes)")
        h = content_hash(data)
        if job.replace_id is not None and h == job.old_hash:
            return Outcome(job, "touched", hash=h)  # only the timestamp changed
        with self._moved_lock:
            ids = moved_pool.get(h)
            moved_id = ids.pop() if ids else None
        if moved_id is not None:
            return Outcome(job, "moved", hash=h, moved_id=moved_id)
        try:
            dec = decode(
                data,
                min_side=min_side,
                min_long=self.settings.thumbnail_size,
                max_pixels=self.settings.max_image_pixels,
            )
            if not self.thumbs.read(h):
                self.thumbs.write(h, thumbnail_bytes(dec.image, self.settings.thumbnail_size))
            prepared = self.encoder.prepare(dec.image)
        except ImageError as err:
            return Outcome(job, "failed", hash=h, error=str(err))
        except Exception as err:  # noqa: BLE001 - one odd file must never stop a run
            log.exception("unexpected error on %s", e.path)
            return Outcome(job, "failed", hash=h, error=f"unexpected error: {type(err).__name__}: {err}")
        x = dec.exif
        row = {
            "format": dec.format,
            "width": dec.width,
            "height": dec.height,
            "orientation": x.orientation,
            "taken_at": x.taken_at,
            "camera_make": x.make,
            "camera_model": x.model,
            "gps_lat": x.lat,
            "gps_lon": x.lon,
            "gps_alt": x.alt,
            "notes": "; ".join(x.notes) or None,
        }
        return Outcome(job, "ready", hash=h, prepared=prepared, row=row)

    # main side --------------------------------------------------------------------------------------
    def run(
        self, roots: list[Path], progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> RunReport:
        progress = progress or Progress()
        cancel = cancel or threading.Event()
        t0 = time.monotonic()
        folders = [str(Path(r).expanduser().absolute()) for r in roots]
        report = RunReport(folders)
        for f in folders:
            if not Path(f).is_dir():
                raise NotADirectoryError(f"not a folder: {f}")
        progress.update(state="scanning", started_at=time.monotonic(), finished_at=None, message="loading model")
        self.encoder.load()
        self.catalog.check_space(SPACE, self.encoder.dim, self.encoder.fingerprint)
        min_side = self.encoder.input_size
        last_save = time.monotonic()
        try:
            with ThreadPoolExecutor(self._workers(), thread_name_prefix="decode") as pool:
                for folder in folders:
                    if cancel.is_set():
                        break
                    last_save = self._run_folder(folder, pool, progress, cancel, report, min_side, last_save)
        except BaseException:
            progress.update(state="failed", message="indexing stopped by an error")
            if self.index.dirty:
                self.index.save()
            raise
        if self.index.dirty:
            self.index.save()
        report.cancelled = cancel.is_set()
        report.seconds = time.monotonic() - t0
        progress.update(
            state="cancelled" if report.cancelled else "done",
            message="cancelled: the next run resumes" if report.cancelled else "done",
        )
        return report

    def _run_folder(
        self,
        folder: str,
        pool: ThreadPoolExecutor,
        progress: Progress,
        cancel: threading.Event,
        report: RunReport,
        min_side: int,
        last_save: float,
    ) -> float:
        progress.update(state="scanning", folder=folder, message=f"scanning {folder}")
        folder_id = self.catalog.add_folder(folder)
        known = self.catalog.known_under(folder_id)
        seen: set[str] = set()
        jobs: list[Job] = []
        unchanged = 0
        for e in iter_image_files(Path(folder)):
            seen.add(e.path)
            k = known.get(e.path)
            if k is None:
                other = self.catalog.get_by_path(e.path)  # indexed already through another (nested) folder
                if other is not None and other.size == e.size and other.mtime == e.mtime:
                    unchanged += 1
                    continue
                jobs.append(Job(e, other.id if other else None, other.hash if other else None))
            elif k[1] == e.size and k[2] == e.mtime:
                unchanged += 1
            else:
                jobs.append(Job(e, k[0], k[3]))
        gone = {p: v for p, v in known.items() if p not in seen}
        moved_pool: dict[str, list[int]] = {}
        for _p, (iid, _s, _m, h, status) in gone.items():
            if h and status == "indexed":
                moved_pool.setdefault(h, []).append(iid)
        report.total += len(jobs) + unchanged
        report.unchanged += unchanged
        progress.add(total=len(jobs) + unchanged, done=unchanged, unchanged=unchanged)
        progress.update(state="indexing", message=f"indexing {len(jobs)} new or changed files")

        batch: list[Outcome] = []
        others: list[Outcome] = []
        bsz = self.settings.batch_size
        ahead = bsz * 2 + self._workers()
        outcomes = bounded_map(pool, lambda j: self._process(j, moved_pool, min_side), jobs, ahead, cancel)
        for out in outcomes:
            (batch if out.kind == "ready" else others).append(out)
            if len(batch) >= bsz or len(others) >= 4 * bsz:
                self._commit(folder_id, batch, others, progress, report)
                batch, others = [], []
                if time.monotonic() - last_save > self.settings.checkpoint_seconds and self.index.dirty:
                    self.index.save()
                    last_save = time.monotonic()
            if cancel.is_set():
                break
        self._commit(folder_id, batch, others, progress, report)
        if cancel.is_set():
            return last_save
        # files that vanished and were not found elsewhere by hash are gone
        unclaimed = {i for ids in moved_pool.values() for i in ids}  # moved ones were popped from the pool
        removed = [v[0] for v in gone.values() if v[0] in unclaimed or not (v[3] and v[4] == "indexed")]
        if removed:
            self._remove(removed, progress, report)
        self.catalog.touch_folder(folder_id)
        return last_save

    def _commit(
        self, folder_id: int, batch: list[Outcome], others: list[Outcome], progress: Progress, report: RunReport
    ) -> None:
        if not batch and not others:
            return
        vecs = self.encoder.encode_prepared([o.prepared for o in batch]) if batch else None
        new_ids: list[int] = []
        dropped: list[int] = []
        stale_hashes: list[str] = []
        counts = {"indexed": 0, "failed": 0, "moved": 0, "unchanged": 0}
        with self.catalog.transaction() as t:
            for i, o in enumerate([*batch, *others]):
                e = o.job.entry
                if o.job.replace_id is not None and o.kind != "touched":
                    Catalog.delete_images(t, [o.job.replace_id])
                    dropped.append(o.job.replace_id)
                    if o.job.old_hash and o.job.old_hash != o.hash:
                        stale_hashes.append(o.job.old_hash)
                base = {"folder_id": folder_id, "path": e.path, "size": e.size, "mtime": e.mtime, "hash": o.hash}
                if o.kind == "ready":
                    iid = Catalog.insert_image(t, {**base, **o.row, "status": "indexed"})
                    Catalog.add_vector(t, iid, SPACE, vecs[i])
                    new_ids.append(iid)
                    counts["indexed"] += 1
                elif o.kind == "failed":
                    Catalog.insert_image(t, {**base, "status": "error", "error": o.error})
                    counts["failed"] += 1
                elif o.kind == "moved":
                    assert o.moved_id is not None
                    Catalog.move_image(t, o.moved_id, folder_id, e.path, e.size, e.mtime)
                    counts["moved"] += 1
                else:  # touched: same bytes, new timestamp
                    assert o.job.replace_id is not None
                    Catalog.move_image(t, o.job.replace_id, folder_id, e.path, e.size, e.mtime)
                    counts["unchanged"] += 1
        # SQLite has committed; now the derived FAISS index follows
        self.index.remove(dropped)
        if new_ids:
            self.index.add(np.asarray(new_ids, np.int64), vecs)
        for h in stale_hashes:
            if not self.catalog.hash_in_use(h):
                self.thumbs.remove(h)
        for o in others:
            if o.kind == "failed":
                progress.error(o.job.entry.path, o.error or "")
                report.errors.append({"path": o.job.entry.path, "error": o.error})
        report.indexed += counts["indexed"]
        report.failed += counts["failed"]
        report.moved += counts["moved"]
        report.unchanged += counts["unchanged"]
        progress.add(done=len(batch) + len(others), **counts)

    def _remove(self, ids: list[int], progress: Progress, report: RunReport) -> None:
        rows = self.catalog.get_many(ids)
        with self.catalog.transaction() as t:
            Catalog.delete_images(t, ids)
        self.index.remove(ids)
        for r in rows.values():
            if r.hash and not self.catalog.hash_in_use(r.hash):
                self.thumbs.remove(r.hash)
        report.removed += len(ids)
        progress.add(removed=len(ids))
