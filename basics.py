"""Three small tools the floors above share, so each exists once: a value loaded once on first use (under a
lock, whichever thread asks first), a file replaced in one rename, and ids taken in chunks SQLite accepts."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class Once(Generic[T]):
    """`load` runs the first time `get()` is called, once, even when threads ask at the same moment."""

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._value: T | None = None
        self._done = False

    def get(self) -> T:
        if not self._done:
            with self._lock:
                if not self._done:
                    self._value = self._load()
                    self._done = True
        return self._value  # type: ignore[return-value]

    @property
    def loaded(self) -> bool:
        return self._done

    def reset(self, broken: T) -> None:
        """The next get() loads again, unless another thread has already replaced `broken` (the value it saw)."""
        with self._lock:
            if self._done and self._value is broken:
                self._done, self._value = False, None


@contextmanager
def replacing(path: Path, fsync: bool = True) -> Iterator[Path]:
    """A temporary path beside `path` to write to; once written it replaces `path` in one rename (after an
    fsync unless told otherwise), so a crash leaves the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes, fsync: bool = True) -> None:
    with replacing(path, fsync) as tmp:
        tmp.write_bytes(data)


def chunked(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    """Ids in lists of at most `size`: an `IN (...)` of SQLite takes at most 999 parameters."""
    ids = [int(i) for i in ids]
    for i in range(0, len(ids), size):
        yield ids[i : i + size]
