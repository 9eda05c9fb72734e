"""A GPU run's files, fed to the Indexer: each read, hashed, checked (may the GPU decoder take it?) and probed
(its catalog columns from the header) in the probe processes, a few files a task, so that the indexing
process does almost no Python a file: every GIL hand-over of reader threads there delayed the decoder's
thread, which ran its batches at 60-70% of its rate beside them and at its full rate now (content-only
825-856 img/s against 408-613 on the H100, BENCHMARKS.md). The decoder then reads each JPEG again by its
path, from the page cache. What it cannot take goes through the CPU path in the reader threads."""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from indexing.hashing import HashKind
from indexing.work import PROBES, Job, Outcome, Scan, scan_files

log = logging.getLogger(__name__)

CHUNK = 8  # files a task: fewer hand-overs between the processes, each a few GIL grabs here


def scanned(
    jobs: list[Job],
    scan: Callable[[list[Job]], Any],
    decide: Callable[[Job, Scan], Outcome | None],
    cpu: Callable[[Job], Outcome],
    pool: ThreadPoolExecutor,
    ahead: int,
    cancel: threading.Event,
) -> Iterator[Outcome]:
    """Outcomes of `jobs`: `scan` submits a chunk of them (a Future of their Scans), `decide` makes an outcome of
    one (None: the CPU path's, run by `cpu` in `pool`); at most `ahead` files in flight each way, so memory
    stays flat; the scans' order kept, the CPU path's outcomes given as they finish."""
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    todo = iter(chunks)
    scanning: deque[tuple[list[Job], Future]] = deque()
    slow: deque[Future] = deque()  # the CPU path's

    def more() -> None:
        while not cancel.is_set() and len(scanning) * CHUNK < ahead and (chunk := next(todo, None)) is not None:
            try:
                future = scan(chunk)
            except Exception as err:  # noqa: BLE001 - no probe processes to be had: these files take the CPU path
                future = Future()
                future.set_exception(err)
            scanning.append((chunk, future))

    try:
        more()
        while scanning:
            chunk, future = scanning.popleft()
            try:
                scans: list[Scan | None] = future.result()
            except Exception as err:  # noqa: BLE001 - a broken pool (a process killed) costs speed, never the run
                log.warning("the probe processes failed (%s): the CPU path reads these files", err)
                scans = [None] * len(chunk)
            more()
            for job, s in zip(chunk, scans, strict=True):
                out = decide(job, s) if s is not None else None
                if out is None:
                    slow.append(pool.submit(cpu, job))
                else:
                    yield out
            while slow and (slow[0].done() or len(slow) >= ahead):
                yield slow.popleft().result()
        while slow:
            yield slow.popleft().result()
    finally:
        for _, f in scanning:
            f.cancel()
        for f in slow:
            f.cancel()


def decide(job: Job, s: Scan, moved: Callable[[Job, str], Outcome | None]) -> Outcome | None:
    """A scanned file's outcome: failed, touched (same bytes: its new metadata), moved (`moved`: the picture a
    vanished file with its bytes was), or for the GPU decoder, by its path; None: the CPU path's."""
    if s.error is not None or s.hash is None:
        return Outcome(job, "failed", error=s.error or "unreadable")
    if s.size == 0:
        return Outcome(job, "failed", error="empty file (0 bytes)")
    if job.fill_id is None:
        if job.replace_id is not None and s.hash == job.old_hash:
            return Outcome(job, "touched", hash=s.hash, row=s.row) if s.row else None
        if (out := moved(job, s.hash)) is not None:
            return out
    return Outcome(job, "gpu", hash=s.hash, data=job.entry.path, row=s.row) if s.row else None


def scan_in_probes(kind: HashKind, max_pixels: int, gpu_pixels: int, progressive: bool) -> Callable[[list[Job]], Any]:
    """`scanned`'s scan: a chunk of files to the probe processes (scan_files). A pool broken by a process that
    died (the kernel's OOM killer, say) is made again: its chunks in flight went to the CPU path."""
    task = functools.partial(
        scan_files, kind=kind, max_pixels=max_pixels, gpu_pixels=gpu_pixels, progressive=progressive
    )

    def scan(chunk: list[Job]) -> Future:
        pool = PROBES.get()
        try:
            return pool.submit(task, [j.entry for j in chunk])
        except BrokenProcessPool:
            log.warning("a probe process died: starting them again")
            PROBES.reset(pool)
            pool.shutdown(wait=False, cancel_futures=True)
            return PROBES.get().submit(task, [j.entry for j in chunk])

    return scan


__all__ = ["CHUNK", "decide", "scan_in_probes", "scanned"]
