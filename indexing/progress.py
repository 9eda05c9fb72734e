"""A progress object the pipeline writes and the CLI (tqdm) and the UI (polling) read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class ProgressSnapshot:
    state: str  # idle | scanning | indexing | finishing | done | cancelled | failed
    folder: str
    total: int
    done: int
    indexed: int
    unchanged: int
    failed: int
    moved: int
    removed: int
    filled: int
    skipped: int  # files that are not pictures (videos, sidecars, ...)
    rate: float  # files per second over this run
    elapsed: float
    message: str
    recent_errors: list[tuple[str, str]]

    @property
    def running(self) -> bool:
        return self.state in ("scanning", "indexing", "finishing")

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else (1.0 if self.state == "done" else 0.0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["recent_errors"] = [{"path": p, "error": e} for p, e in self.recent_errors]
        return d


@dataclass
class Progress:
    state: str = "idle"
    folder: str = ""
    total: int = 0
    done: int = 0
    indexed: int = 0
    unchanged: int = 0
    failed: int = 0
    moved: int = 0
    removed: int = 0
    filled: int = 0
    skipped: int = 0
    message: str = ""
    started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    recent_errors: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _listeners: list[Callable[[ProgressSnapshot], None]] = field(default_factory=list, repr=False)

    def listen(self, fn: Callable[[ProgressSnapshot], None]) -> None:
        self._listeners.append(fn)

    def update(self, **changes: object) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self, k, v)
            if changes.get("state") in ("done", "cancelled", "failed"):
                self.finished_at = time.monotonic()
        self._notify()

    def add(self, **deltas: int) -> None:
        with self._lock:
            for k, v in deltas.items():
                setattr(self, k, getattr(self, k) + v)
        self._notify()

    def error(self, path: str, reason: str) -> None:
        with self._lock:
            self.recent_errors = [*self.recent_errors[-19:], (path, reason)]

    def _notify(self) -> None:
        if self._listeners:
            snap = self.snapshot()
            for fn in self._listeners:
                fn(snap)

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            end = self.finished_at or time.monotonic()
            elapsed = max(end - self.started_at, 1e-9)
            processed = self.indexed + self.failed + self.moved + self.filled
            return ProgressSnapshot(
                self.state,
                self.folder,
                self.total,
                self.done,
                self.indexed,
                self.unchanged,
                self.failed,
                self.moved,
                self.removed,
                self.filled,
                self.skipped,
                processed / elapsed if processed else 0.0,
                elapsed,
                self.message,
                list(self.recent_errors),
            )
