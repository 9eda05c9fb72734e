"""The indexing pipeline: scan, plan (new / changed / moved / deleted / lacking a space), decode in a worker
pool while the models encode the previous batch, and commit each batch to SQLite in one transaction.

A crash or Ctrl-C loses at most the batch in flight: SQLite holds every committed batch, and the FAISS
files are reconciled with it on the next start.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from indexing import feed
from indexing.catalog import META_VERSION, Catalog
from indexing.gpu import GPU_MAX_PIXELS
from indexing.gpu_stage import GpuStage
from indexing.imageio import ImageError, probe, thumbnail_bytes
from indexing.progress import Progress
from indexing.scan import iter_image_files
from indexing.thumbs import ThumbCache
from indexing.vectors import VectorIndex
from indexing.work import (
    PROBES,
    Job,
    Outcome,
    RunReport,
    add_places,
    backfill_places,
    bounded_map,
    calibrate_int8,
    decode_for_index,
    encode_outcomes,
    failure,
    forget,
    metadata_row,
    read_and_hash,
)
from models.base import Encoder
from settings import Settings

log = logging.getLogger(__name__)


class Indexer:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        encoders: dict[str, Encoder],
        indices: dict[str, VectorIndex],
        thumbs: ThumbCache,
        gpu: Any = None,
    ) -> None:
        """gpu: a batched JPEG decoder (indexing.gpu.GpuDecoder), or None to pick one when the run starts."""
        assert "content" in encoders and set(encoders) == set(indices)
        self.settings, self.catalog, self.encoders = settings, catalog, encoders
        self.indices, self.thumbs, self.spaces = indices, thumbs, tuple(encoders)
        self._moved_lock = threading.Lock()
        self._filling = False  # the second pass of content-first: only adding the spaces that files lack
        self._new_ids: set[int] = set()  # indexed in this run: their style vectors are no "gain"
        self._gpu = gpu

    def _workers(self) -> int:
        return self.settings.decode_workers or max(1, min(8, os.cpu_count() or 1))

    # worker side ------------------------------------------------------------------------------------
    def _process(self, job: Job, moved_pool: dict[str, list[int]], min_side: int) -> Outcome:
        """A file through the CPU path: read, hashed, decoded, thumbnailed, its model inputs made."""
        e = job.entry
        try:
            data, h, size = read_and_hash(e.path, self.catalog.hash_kind)
        except OSError as err:
            return Outcome(job, "failed", error=failure(err, e.path))
        if size == 0:
            return Outcome(job, "failed", error="empty file (0 bytes)")
        source = data if data is not None else e.path
        if job.fill_id is None:
            if job.replace_id is not None and h == job.old_hash:
                # same bytes: only the timestamp, a sidecar or the reader changed; metadata without pixels
                try:
                    row = metadata_row(probe(source, name=e.path, max_pixels=self.settings.max_image_pixels), e)
                except ImageError:
                    row = {}
                return Outcome(job, "touched", hash=h, row=row)
            if (moved := self._moved(job, h, moved_pool)) is not None:
                return moved
        try:
            dec = decode_for_index(source, e.path, self.settings, min_side)
            if job.redo or not self.thumbs.read(h):
                self.thumbs.write(h, thumbnail_bytes(dec.image, self.settings.thumbnail_size))
            prepared = {s: self.encoders[s].prepare(dec.image) for s in job.spaces}
        except Exception as err:  # noqa: BLE001 - one odd file must never stop a run
            return Outcome(job, "failed", hash=h, error=failure(err, e.path))
        if job.fill_id is not None:
            return Outcome(job, "fill", hash=h, prepared=prepared)
        return Outcome(job, "ready", hash=h, prepared=prepared, row=metadata_row(dec, e))

    def _moved(self, job: Job, h: str, moved_pool: dict[str, list[int]]) -> Outcome | None:
        """A new file whose bytes a vanished one had: that picture moved here (None: not so)."""
        with self._moved_lock:
            ids = moved_pool.get(h)
            moved_id = ids.pop() if ids else None
        return Outcome(job, "moved", hash=h, moved_id=moved_id) if moved_id is not None else None

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
        progress.update(state="loading", started_at=time.monotonic(), finished_at=None, message="loading models")
        for space, enc in self.encoders.items():
            enc.load()
            self.catalog.check_space(space, enc.dim, enc.fingerprint)
        min_side = max(enc.input_size for enc in self.encoders.values())
        if self._gpu is None:
            from indexing.gpu import gpu_decoder

            self._gpu = gpu_decoder(self.settings, self.encoders["content"].device)
        if self._gpu is not None:  # the probe processes start, and the decoder warms, while the folders are scanned
            PROBES.get()
            GpuStage.prewarm(self._gpu, self.settings.batch_size)
        backfill_places(self.catalog)
        last_save = time.monotonic()
        # content first: every file becomes searchable by content in a first pass, the slower style spaces are
        # filled in a second (the GPU runs them all at once: there the decoding, not the models, is the wall)
        passes = [("content",), self.spaces] if self._content_first() else [self.spaces]
        try:
            with ThreadPoolExecutor(self._workers(), thread_name_prefix="decode") as pool:
                calibrate_int8(self.encoders, folders, pool, progress, min_side, self.settings)
                for n, spaces in enumerate(passes):
                    self._filling = n > 0
                    if self._filling and not cancel.is_set():
                        ready = self.catalog.count_vectors("content")
                        names = "/".join(s for s in self.spaces if s != "content")
                        progress.update(
                            phase="style",
                            phase_started_at=time.monotonic(),
                            content_ready=ready,
                            message=f"content search ready for {ready:,} images; adding {names}",
                        )
                    for folder in folders:
                        if cancel.is_set():
                            break
                        last_save = self._run_folder(
                            folder, pool, progress, cancel, report, min_side, last_save, spaces
                        )
                    self._save()  # the content space is saved, and searchable from other processes, before the rest
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

    def _content_first(self) -> bool:
        mode = self.settings.content_first
        if mode != "auto":
            return mode == "on"
        return len(self.spaces) > 1 and all(enc.device == "cpu" for enc in self.encoders.values())

    def _save(self) -> None:
        for index in self.indices.values():
            if index.dirty:
                index.save()

    def _plan(
        self, folder: str, folder_id: int, skipped: Counter, spaces: tuple[str, ...]
    ) -> tuple[list[Job], int, dict]:
        known = self.catalog.known_under(folder_id)
        have = {s: set(self.catalog.vector_ids(s).tolist()) for s in spaces}
        seen: set[str] = set()
        jobs: list[Job] = []
        unchanged = 0
        for e in iter_image_files(Path(folder), skipped):
            seen.add(e.path)
            k = known.get(e.path)
            if k is None:
                other = self.catalog.get_by_path(e.path)  # indexed already through another (nested) folder
                if other is not None and other.size == e.size and other.mtime == e.mtime:
                    k = self.catalog.known_under(other.folder_id)[e.path]
                else:
                    jobs.append(Job(e, spaces, other.id if other else None, other.hash if other else None))
                    continue
            old_reader = (k.meta_version or 1) < META_VERSION
            if k.size != e.size or k.mtime != e.mtime:
                jobs.append(Job(e, spaces, k.id, k.hash))
                continue
            if old_reader and (k.status == "error" or k.format in ("HEIF", "AVIF")):
                # an older reader refused it, or showed it turned (HEIF's container rotation): do it again
                jobs.append(Job(e, spaces, k.id, None, redo=True))
                continue
            if k.status == "indexed" and (old_reader or k.extra_sig != e.extra_sig):
                jobs.append(Job(e, (), k.id, k.hash))  # a sidecar or companion changed: metadata only
                continue
            unchanged += 1
            lacking = tuple(s for s in spaces if k.status == "indexed" and k.id not in have[s])
            if lacking:  # e.g. the style models arrived after the first run: embed only what is missing
                jobs.append(Job(e, lacking, fill_id=k.id))
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
        spaces: tuple[str, ...],
    ) -> float:
        if not self._filling:
            progress.update(state="scanning", folder=folder, message=f"scanning {folder}")
        folder_id = self.catalog.add_folder(folder)
        if not self._filling:
            self.catalog.folder_running(folder_id)
        skipped: Counter = Counter()
        jobs, unchanged, gone = self._plan(folder, folder_id, skipped, spaces)
        if self._filling:  # the second pass: files were counted by the first; only their missing spaces are new
            fills = [j for j in jobs if j.fill_id is not None]
            progress.add(fill_total=len(fills))
            progress.update(state="indexing")
            return self._run_jobs(folder_id, jobs, {}, pool, progress, cancel, report, min_side, last_save)
        moved_pool: dict[str, list[int]] = {}
        for k in gone.values():
            if k.hash and k.status == "indexed":
                moved_pool.setdefault(k.hash, []).append(k.id)
        fills = sum(1 for j in jobs if j.fill_id is not None)
        report.total += len(jobs) - fills + unchanged
        report.unchanged += unchanged
        report.skipped += sum(skipped.values())
        for kind, n in skipped.items():
            report.skipped_by_kind[kind] = report.skipped_by_kind.get(kind, 0) + n
        progress.add(
            total=len(jobs) - fills + unchanged,
            done=unchanged - fills,
            unchanged=unchanged,
            skipped=sum(skipped.values()),
        )
        progress.update(state="indexing", message=f"indexing {len(jobs)} new, changed or incomplete files")
        last_save = self._run_jobs(folder_id, jobs, moved_pool, pool, progress, cancel, report, min_side, last_save)
        if cancel.is_set():
            return last_save
        # files that vanished and were not found elsewhere by hash are gone
        unclaimed = {i for ids in moved_pool.values() for i in ids}  # moved ones were popped from the pool
        removed = [k.id for k in gone.values() if k.id in unclaimed or not (k.hash and k.status == "indexed")]
        if removed:
            self._remove(removed, progress, report)
        self.catalog.touch_folder(folder_id)
        return last_save

    def _run_jobs(
        self,
        folder_id: int,
        jobs: list[Job],
        moved_pool: dict[str, list[int]],
        pool: ThreadPoolExecutor,
        progress: Progress,
        cancel: threading.Event,
        report: RunReport,
        min_side: int,
        last_save: float,
    ) -> float:
        batch: list[Outcome] = []
        others: list[Outcome] = []
        bsz = self.settings.batch_size
        ahead = bsz * 2 + self._workers()
        stage = None
        cpu_job = lambda j: self._process(j, moved_pool, min_side)  # noqa: E731 - the CPU path's
        if self._gpu is None:
            outcomes = bounded_map(pool, cpu_job, jobs, ahead, cancel)
        else:  # the files read, hashed, checked and probed in the probe processes; the GPU
            # stage decodes in batches the JPEGs its decoder takes, the pool's threads the rest (and what it refuses)
            stage = GpuStage(
                self._gpu, self.encoders, self.thumbs, self.settings, lambda o: cpu_job(o.job), self._workers()
            )
            most = min(GPU_MAX_PIXELS, self.settings.max_image_pixels)
            progressive = getattr(self._gpu, "progressive", True)
            scan = feed.scan_in_probes(self.catalog.hash_kind, self.settings.max_image_pixels, most, progressive)
            decide = functools.partial(feed.decide, moved=lambda j, h: self._moved(j, h, moved_pool))
            outcomes = feed.scanned(jobs, scan, decide, cpu_job, pool, ahead, cancel)
        try:
            for out in itertools.chain(outcomes, [None]):  # None: the end, where the GPU stage is drained
                last = out is None or cancel.is_set()
                if out is not None and out.kind == "gpu":
                    stage.add(out)  # type: ignore[union-attr]
                elif out is not None:
                    (batch if out.prepared else others).append(out)
                for o in stage.take(last) if stage else []:
                    (batch if o.prepared or o.vectors else others).append(o)
                if len(batch) >= bsz or len(others) >= 4 * bsz:
                    self._commit(folder_id, batch, others, progress, report)
                    batch, others = [], []
                    if time.monotonic() - last_save > self.settings.checkpoint_seconds:
                        self._save()
                        last_save = time.monotonic()
                if last:
                    break
        finally:
            if stage is not None:
                stage.close()
        self._commit(folder_id, batch, others, progress, report)
        return last_save

    def _commit(
        self, folder_id: int, batch: list[Outcome], others: list[Outcome], progress: Progress, report: RunReport
    ) -> None:
        if not batch and not others:
            return
        encoded = encode_outcomes(self.encoders, batch)
        add_places([o.row for o in [*batch, *others] if o.kind in ("ready", "touched") and o.row])
        ids: list[int] = []  # image id per batch position
        dropped: list[int] = []
        stale_hashes: list[str] = []
        counts = {"indexed": 0, "failed": 0, "moved": 0, "unchanged": 0}
        filled = 0  # images indexed before this run that gained a space
        fill_done = 0  # the style pass's own progress (new images too)
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
                    self._new_ids.add(ids[-1])
                    counts["indexed"] += 1
                elif o.kind == "fill":
                    assert o.job.fill_id is not None
                    ids.append(o.job.fill_id)
                    fill_done += 1
                    filled += o.job.fill_id not in self._new_ids
                elif o.kind == "failed":
                    if o.job.fill_id is None:
                        row = {**base, "status": "error", "error": o.error, "meta_version": META_VERSION}
                        Catalog.insert_image(t, row)
                        counts["failed"] += 1
                    else:  # an indexed file that can no longer be read keeps what it had
                        progress.error(e.path, f"could not add missing spaces: {o.error}")
                elif o.kind == "moved":
                    assert o.moved_id is not None
                    Catalog.move_image(t, o.moved_id, folder_id, e.path, e.size, e.mtime)
                    counts["moved"] += 1
                else:  # touched: same bytes; a new timestamp, sidecar or companion, or a newer reader
                    assert o.job.replace_id is not None
                    Catalog.move_image(t, o.job.replace_id, folder_id, e.path, e.size, e.mtime)
                    if o.row:
                        Catalog.update_metadata(t, o.job.replace_id, o.row)
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
        if self._filling:
            progress.add(filled=filled, fill_done=fill_done, **{k: v for k, v in counts.items() if k == "failed"})
        else:
            progress.add(done=len(batch) + len(others), filled=filled, **counts)

    def remove_folder(self, folder_id: int) -> int:
        """The folder leaves the library (the files are not touched); returns how many pictures left with it."""
        ids = self.catalog.folder_image_ids(folder_id)
        forget(self.catalog, self.indices.values(), self.thumbs, ids, lambda: self.catalog.delete_folder(folder_id))
        self._save()
        return len(ids)

    def _remove(self, ids: list[int], progress: Progress, report: RunReport) -> None:
        forget(self.catalog, self.indices.values(), self.thumbs, ids, lambda: self.catalog.remove_images(ids))
        report.removed += len(ids)
        progress.add(removed=len(ids))
