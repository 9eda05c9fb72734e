"""Scratch folders for a bench run, removed when the run ends: a run's catalogs, models and pictures reach
gigabytes, and a temp folder left full after each run filled this machine's disk (CI then failed to install)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def scratch(prefix: str = "styleseek-bench-", parent: Path | None = None) -> Path:
    """A new folder under `parent` (the system's temp folder by default), removed with all in it at exit."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    atexit.register(shutil.rmtree, path, True)
    return path
