"""A progress object the pipeline writes and the CLI (tqdm) and the UI (polling) read."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from basics import write_atomic


def duration_text(seconds: float) -> str:
    """'3 h', '25 min', '40 s': a remaining time as people say it."""
    if seconds >= 5400:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


RUNNING = ("loading", "scanning", "indexing", "finishing", "cancelling")


@dataclass
class ProgressSnapshot:
    state: str  # idle | loading | scanning | indexing | finishing | cancelling | done | cancelled | failed
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
    phase: str  # "" (one pass), or "style": content search is ready, the style spaces are being added
    content_ready: int  # images searchable by content when the style phase began
    fill_total: int  # images the style phase adds vectors to
    fill_done: int  # of those, done
    fill_rate: float  # images per second in the style phase
    rate: float  # files per second over this run
    elapsed: float
    message: str
    recent_errors: list[tuple[str, str]]

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def fraction(self) -> float:
        if self.phase == "style":
            return self.fill_done / self.fill_total if self.fill_total else 1.0
        return self.done / self.total if self.total else (1.0 if self.state == "done" else 0.0)

    @property
    def eta_seconds(self) -> float | None:
        """Time left in the style phase at its rate so far; None before there is a rate."""
        if self.phase != "style" or not self.fill_rate:
            return None
        return max(0, self.fill_total - self.fill_done) / self.fill_rate

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
    phase: str = ""
    content_ready: int = 0
    fill_total: int = 0
    fill_done: int = 0
    phase_started_at: float = 0.0
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
            if self.state == "cancelling" and changes.get("state") in RUNNING:
                changes.pop("state")  # a cancel asked for stays said until the run has stopped
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
                self.phase,
                self.content_ready,
                self.fill_total,
                self.fill_done,
                self.fill_done / max(end - self.phase_started_at, 1e-9) if self.phase and self.fill_done else 0.0,
                processed / elapsed if processed else 0.0,
                elapsed,
                self.message,
                list(self.recent_errors),
            )


class ProgressFile:
    """A running index's progress in `<data dir>/indexing.json`, at most every `every` seconds, so that
    `styleseek status` in another process can say how far the run is and how long is left."""

    def __init__(self, path: Path, every: float = 2.0) -> None:
        self.path = Path(path)
        self.every = every
        self._last = 0.0

    def __call__(self, snap: ProgressSnapshot) -> None:
        now = time.monotonic()
        if snap.running and now - self._last < self.every:
            return
        self._last = now
        d = snap.to_dict() | {"updated_at": time.time(), "eta_seconds": snap.eta_seconds, "fraction": snap.fraction}
        try:
            write_atomic(self.path, json.dumps(d).encode(), fsync=False)
        except OSError:
            pass  # progress for other processes is a courtesy; indexing goes on

    @staticmethod
    def read(path: Path, max_age: float = 30.0) -> dict | None:
        """The last snapshot of a run that is still going (written within `max_age` seconds), else None."""
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            return None
        running = d.get("state") in RUNNING
        return d if running and time.time() - d.get("updated_at", 0) <= max_age else None
