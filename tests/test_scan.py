from __future__ import annotations

import os
from pathlib import Path

from indexing.scan import iter_image_files


def test_walk_finds_supported_files_skips_hidden_and_survives_symlink_cycles(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in ("x.JPG", "a/y.png", "a/b/z.heic", "a/b/w.tiff", ".hidden/no.jpg", "a/.dot.jpg", "a/readme.txt"):
        (tmp_path / rel).write_bytes(b"x")
    os.symlink(tmp_path, tmp_path / "a" / "b" / "loop")  # a cycle back to the root
    os.symlink(tmp_path / "missing.jpg", tmp_path / "dangling.jpg")
    found = sorted(os.path.relpath(e.path, tmp_path) for e in iter_image_files(tmp_path))
    assert found == ["a/b/w.tiff", "a/b/z.heic", "a/y.png", "x.JPG"]
