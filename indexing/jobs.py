"""The one background indexing run of a server: its progress, a cancel switch and its report; a second run is
refused while the first goes on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from indexing.progress import Progress, ProgressSnapshot
from indexing.work import RunReport

log = logging.getLogger(__name__)
Run = Callable[[list[Path], Progress, threading.Event], RunReport]


class IndexJob:
    """One background indexing run for the UI: its progress, a cancel switch and the final report."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.progress = Progress(state="loading", message="loading models")  # what the first seconds are
        self.cancel = threading.Event()
        self.report: RunReport | None = None
        self.error: str | None = None
        self.thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Jobs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.job: IndexJob | None = None

    def start(self, paths: list[Path], run: Run) -> IndexJob:
        with self._lock:
            if self.job is not None and self.job.running:
                raise RuntimeError("an indexing run is already in progress")
            for p in paths:
                if not p.is_dir():
                    raise NotADirectoryError(f"not a folder: {p}")
            job = IndexJob(paths)

            def work() -> None:
                try:
                    job.report = run(paths, job.progress, job.cancel)
                except Exception as e:  # noqa: BLE001 - shown in the UI, never a dead thread
                    log.exception("indexing failed")
                    job.error = str(e)
                    job.progress.update(state="failed", message=str(e))

            job.thread = threading.Thread(target=work, name="indexer", daemon=True)
            self.job = job
            job.thread.start()
            return job

    def progress(self) -> ProgressSnapshot | None:
        return self.job.progress.snapshot() if self.job else None

    def cancel(self) -> ProgressSnapshot:
        if self.job is None or not self.job.running:
            raise RuntimeError("No indexing run is in progress.")
        self.job.cancel.set()
        self.job.progress.update(state="cancelling", message="cancelling: the files in hand are finished first")
        return self.job.progress.snapshot()
