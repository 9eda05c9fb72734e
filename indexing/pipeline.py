"""The indexing pipeline: scan, plan (new / changed / moved / deleted / lacking a space), decode in a worker
pool while the models encode the previous batch, and commit each batch to SQLite in one transaction.

A crash or Ctrl-C loses at most the batch in flight: SQLite holds every committed batch, and the FAISS
files are reconciled with it on the next start.
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
from search.places import GAZETTEER, PLACE_VERSION, Place
from settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Job:
    entry: FileEntry
    spaces: tuple[str, ...]  # the spaces to embed this file into
    replace_id: int | None = None  # the row of the same path whose bytes changed
    old_hash: str | None = None
    fill_id: int | None = None  # an indexed, unchanged row that only lacks some spaces


@dataclass
class Outcome:
    job: Job
    kind: str  # ready | fill | failed | moved | touched
    hash: str | None = None
    error: str | None = None
    prepared: dict[str, Any] = field(default_factory=dict)  # space -> model input
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
    filled: int = 0  # unchanged images that gained a space they lacked
    cancelled: bool = False
    seconds: float = 0.0
    spaces: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def place_columns(p: Place) -> dict:
    return {
        "place_city": p.city,
        "place_region": p.region,
        "place_country_code": p.country_code,
        "place_distance_km": p.distance_km,
        "place_version": PLACE_VERSION,
    }


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
        self,
        settings: Settings,
        catalog: Catalog,
        encoders: dict[str, Encoder],
        indices: dict[str, VectorIndex],
        thumbs: ThumbCache,
    ) -> None:
        assert "content" in encoders and set(encoders) == set(indices)
        self.settings = settings
        self.catalog = catalog
        self.encoders = encoders
        self.indices = indices
        self.thumbs = thumbs
        self.spaces = tuple(encoders)
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
        if job.fill_id is None:
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
            prepared = {s: self.encoders[s].prepare(dec.image) for s in job.spaces}
        except ImageError as err:
            return Outcome(job, "failed", hash=h, error=str(err))
        except Exception as err:  # noqa: BLE001 - one odd file must never stop a run
            log.exception("unexpected error on %s", e.path)
            return Outcome(job, "failed", hash=h, error=f"unexpected error: {type(err).__name__}: {err}")
        if job.fill_id is not None:
            return Outcome(job, "fill", hash=h, prepared=prepared)
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
        report = RunReport(folders, spaces=list(self.spaces))
        for f in folders:
            if not Path(f).is_dir():
                raise NotADirectoryError(f"not a folder: {f}")
        progress.update(state="scanning", started_at=time.monotonic(), finished_at=None, message="loading models")
        for space, enc in self.encoders.items():
            enc.load()
            self.catalog.check_space(space, enc.dim, enc.fingerprint)
        min_side = max(enc.input_size for enc in self.encoders.values())
        self._backfill_places()
        last_save = time.monotonic()
        try:
            with ThreadPoolExecutor(self._workers(), thread_name_prefix="decode") as pool:
                for folder in folders:
                    if cancel.is_set():
                        break
                    last_save = self._run_folder(folder, pool, progress, cancel, report, min_side, last_save)
        except BaseException:
            progress.update(state="failed", message="indexing stopped by an error")
            self._save()
            raise
        self._save()
        report.cancelled = cancel.is_set()
        report.seconds = time.monotonic() - t0
        progress.update(
            state="cancelled" if report.cancelled else "done",
            message="cancelled: the next run resumes" if report.cancelled else "done",
        )
        return report

    def _backfill_places(self) -> None:
        """Images with GPS placed by an older method, or not at all: looked up again without reading files."""
        todo = self.catalog.lacking_place(PLACE_VERSION)
        if not todo:
            return
        places = GAZETTEER.nearest([(lat, lon) for _, lat, lon in todo])
        with self.catalog.transaction() as t:
            for (iid, _, _), p in zip(todo, places, strict=True):
                Catalog.set_place(t, iid, place_columns(p))

    def _save(self) -> None:
        for index in self.indices.values():
            if index.dirty:
                index.save()

    def _plan(self, folder: str, folder_id: int) -> tuple[list[Job], int, dict]:
        known = self.catalog.known_under(folder_id)
        have = {s: set(self.catalog.vector_ids(s).tolist()) for s in self.spaces}
        seen: set[str] = set()
        jobs: list[Job] = []
        unchanged = 0
        for e in iter_image_files(Path(folder)):
            seen.add(e.path)
            k = known.get(e.path)
            if k is None:
                other = self.catalog.get_by_path(e.path)  # indexed already through another (nested) folder
                if other is not None and other.size == e.size and other.mtime == e.mtime:
                    k = (other.id, other.size, other.mtime, other.hash, other.status)
                else:
                    jobs.append(Job(e, self.spaces, other.id if other else None, other.hash if other else None))
                    continue
            if k[1] != e.size or k[2] != e.mtime:
                jobs.append(Job(e, self.spaces, k[0], k[3]))
                continue
            unchanged += 1
            lacking = tuple(s for s in self.spaces if k[4] == "indexed" and k[0] not in have[s])
            if lacking:  # e.g. the style models arrived after the first run: embed only what is missing
                jobs.append(Job(e, lacking, fill_id=k[0]))
        gone = {p: v for p, v in known.items() if p not in seen}
        return jobs, unchanged, gone

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
        jobs, unchanged, gone = self._plan(folder, folder_id)
        moved_pool: dict[str, list[int]] = {}
        for _p, (iid, _s, _m, h, status) in gone.items():
            if h and status == "indexed":
                moved_pool.setdefault(h, []).append(iid)
        fills = sum(1 for j in jobs if j.fill_id is not None)
        report.total += len(jobs) - fills + unchanged
        report.unchanged += unchanged
        progress.add(total=len(jobs) - fills + unchanged, done=unchanged - fills, unchanged=unchanged)
        progress.update(state="indexing", message=f"indexing {len(jobs)} new, changed or incomplete files")

        batch: list[Outcome] = []
        others: list[Outcome] = []
        bsz = self.settings.batch_size
        ahead = bsz * 2 + self._workers()
        outcomes = bounded_map(pool, lambda j: self._process(j, moved_pool, min_side), jobs, ahead, cancel)
        for out in outcomes:
            (batch if out.prepared else others).append(out)
            if len(batch) >= bsz or len(others) >= 4 * bsz:
                self._commit(folder_id, batch, others, progress, report)
                batch, others = [], []
                if time.monotonic() - last_save > self.settings.checkpoint_seconds:
                    self._save()
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

    def _encode(self, batch: list[Outcome]) -> dict[str, tuple[list[int], np.ndarray]]:
        """space -> (positions in batch, vectors): each model sees one batch of the images that need it."""
        out = {}
        for space, enc in self.encoders.items():
            pos = [i for i, o in enumerate(batch) if space in o.prepared]
            if pos:
                out[space] = (pos, enc.encode_prepared([batch[i].prepared[space] for i in pos]))
        return out

    def _commit(
        self, folder_id: int, batch: list[Outcome], others: list[Outcome], progress: Progress, report: RunReport
    ) -> None:
        if not batch and not others:
            return
        encoded = self._encode(batch)
        located = [o for o in batch if o.kind == "ready" and o.row.get("gps_lat") is not None]
        for o, p in zip(
            located, GAZETTEER.nearest([(o.row["gps_lat"], o.row["gps_lon"]) for o in located]), strict=True
        ):
            o.row.update(place_columns(p))
        ids: list[int] = []  # image id per batch position
        dropped: list[int] = []
        stale_hashes: list[str] = []
        counts = {"indexed": 0, "failed": 0, "moved": 0, "unchanged": 0}
        filled = 0
        with self.catalog.transaction() as t:
            for o in [*batch, *others]:
                e = o.job.entry
                if o.job.replace_id is not None and o.kind != "touched":
                    Catalog.delete_images(t, [o.job.replace_id])
                    dropped.append(o.job.replace_id)
                    if o.job.old_hash and o.job.old_hash != o.hash:
                        stale_hashes.append(o.job.old_hash)
                base = {"folder_id": folder_id, "path": e.path, "size": e.size, "mtime": e.mtime, "hash": o.hash}
                if o.kind == "ready":
                    ids.append(Catalog.insert_image(t, {**base, **o.row, "status": "indexed"}))
                    counts["indexed"] += 1
                elif o.kind == "fill":
                    assert o.job.fill_id is not None
                    ids.append(o.job.fill_id)
                    filled += 1
                elif o.kind == "failed":
                    if o.job.fill_id is None:
                        Catalog.insert_image(t, {**base, "status": "error", "error": o.error})
                        counts["failed"] += 1
                    else:  # an indexed file that can no longer be read keeps what it had
                        progress.error(e.path, f"could not add missing spaces: {o.error}")
                elif o.kind == "moved":
                    assert o.moved_id is not None
                    Catalog.move_image(t, o.moved_id, folder_id, e.path, e.size, e.mtime)
                    counts["moved"] += 1
                else:  # touched: same bytes, new timestamp
                    assert o.job.replace_id is not None
                    Catalog.move_image(t, o.job.replace_id, folder_id, e.path, e.size, e.mtime)
                    counts["unchanged"] += 1
            for space, (pos, vecs) in encoded.items():
                for p, v in zip(pos, vecs, strict=True):
                    Catalog.add_vector(t, ids[p], space, v)
        # SQLite has committed; now the derived FAISS indices follow
        for index in self.indices.values():
            index.remove(dropped)
        for space, (pos, vecs) in encoded.items():
            self.indices[space].add(np.asarray([ids[p] for p in pos], np.int64), vecs)
        for h in stale_hashes:
            if not self.catalog.hash_in_use(h):
                self.thumbs.remove(h)
        for o in others:
            if o.kind == "failed" and o.job.fill_id is None:
                progress.error(o.job.entry.path, o.error or "")
                report.errors.append({"path": o.job.entry.path, "error": o.error})
        report.indexed += counts["indexed"]
        report.failed += counts["failed"]
        report.moved += counts["moved"]
        report.unchanged += counts["unchanged"]
        report.filled += filled
        progress.add(done=len(batch) + len(others), filled=filled, **counts)

    def _remove(self, ids: list[int], progress: Progress, report: RunReport) -> None:
        rows = self.catalog.get_many(ids)
        with self.catalog.transaction() as t:
            Catalog.delete_images(t, ids)
        for index in self.indices.values():
            index.remove(ids)
        for r in rows.values():
            if r.hash and not self.catalog.hash_in_use(r.hash):
                self.thumbs.remove(r.hash)
        report.removed += len(ids)
        progress.add(removed=len(ids))
