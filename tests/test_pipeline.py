from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from indexing.progress import Progress
from models.base import Encoder
from services import StyleSeek
from settings import Settings
from tests.helpers import Spy
from tests.imagegen import make_collection, pattern, save_jpeg, write_broken


def _svc(settings: Settings, enc: Encoder) -> StyleSeek:
    return StyleSeek(settings, content_encoder=enc)


def _state(svc: StyleSeek) -> dict[str, tuple]:
    rows = svc.catalog.conn.execute("SELECT path, status, hash FROM images ORDER BY path").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_index_reports_errors_and_goes_on(tmp_path: Path, settings: Settings, shared_encoder: Encoder) -> None:
    lib = tmp_path / "lib"
    good = make_collection(lib, 10)
    broken = write_broken(lib / "broken")
    spy = Spy(shared_encoder)
    svc = _svc(settings, spy)
    report = svc.index_folders([lib])
    assert report.indexed == 10 and report.failed == 4
    assert spy.embedded == 10
    errors = {Path(e["path"]).name: e["error"] for e in report.errors}
    assert errors["zero.jpg"] == "empty file (0 bytes)"
    assert "truncated" in errors["truncated.jpg"]
    assert set(errors) == {p.name for p in broken.values()}
    assert svc.index.ntotal == 10
    assert sorted(svc.index.ids().tolist()) == sorted(
        r[0] for r in svc.catalog.conn.execute("SELECT id FROM images WHERE status='indexed'")
    )
    # records carry EXIF of the JPEGs that had it
    row = svc.catalog.get_by_path(str(good[1]))
    assert (
        row is not None
        and row.camera == "Canon EOS R5"
        and row.gps == {"lat": pytest.approx(47.3769, abs=1e-4), "lon": pytest.approx(8.5417, abs=1e-4), "alt": 408.0}
    )
    # every indexed image has a thumbnail
    for r in svc.catalog.get_many(svc.index.ids().tolist()).values():
        assert svc.thumbs.read(r.hash) is not None


def test_rerun_is_incremental_changes_moves_and_deletes(
    tmp_path: Path, settings: Settings, shared_encoder: Encoder
) -> None:
    lib = tmp_path / "lib"
    files = make_collection(lib, 12)
    spy = Spy(shared_encoder)
    svc = _svc(settings, spy)
    svc.index_folders([lib])
    assert spy.embedded == 12

    r = svc.index_folders([lib])  # nothing changed
    assert (r.indexed, r.unchanged, spy.embedded) == (0, 12, 12)

    moved_from = files[3]
    old_id = svc.catalog.get_by_path(str(moved_from)).id
    moved_to = lib / "elsewhere" / "renamed.jpg"
    moved_to.parent.mkdir()
    shutil.move(moved_from, moved_to)
    files[5].unlink()  # deleted
    changed_id = svc.catalog.get_by_path(str(files[7])).id
    save_jpeg(files[7], pattern(90, 90, 1234))  # same path, new pixels
    touched = files[9]
    os.utime(touched, (1_600_000_000, 1_600_000_000))  # same bytes, new mtime
    new = save_jpeg(lib / "new.jpg", pattern(70, 50, 555))

    r = svc.index_folders([lib])
    assert (r.moved, r.removed, r.indexed) == (1, 1, 2)  # changed + new are embedded, nothing else
    assert spy.embedded == 14
    assert svc.catalog.get_by_path(str(moved_to)).id == old_id  # a move keeps the id and its vector
    assert svc.catalog.get_by_path(str(files[5])) is None
    assert svc.catalog.get_by_path(str(files[7])).id != changed_id
    assert svc.catalog.get_by_path(str(new)) is not None
    assert svc.index.ntotal == 12
    assert changed_id not in svc.index.ids().tolist()
    assert svc.index.reconstruct(old_id) is not None


def test_crash_mid_run_keeps_committed_batches_and_resumes(
    tmp_path: Path, settings: Settings, shared_encoder: Encoder
) -> None:
    lib = tmp_path / "lib"
    make_collection(lib, 14)  # batch size 4: batches 1 and 2 commit, batch 3 crashes
    crashing = Spy(shared_encoder, crash_on_batch=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _svc(settings, crashing).index_folders([lib])
    after_crash = _svc(settings, Spy(shared_encoder))
    assert after_crash.catalog.count("indexed") == 8
    assert after_crash.index.ntotal == 8

    resumed = Spy(shared_encoder)
    svc = _svc(settings, resumed)
    r = svc.index_folders([lib])
    assert resumed.embedded == 6 and r.unchanged == 8  # only the rest is embedded
    assert svc.index.ntotal == 14

    # the same collection indexed cleanly gives the same rows and the same vectors
    clean = _svc(Settings(**{**settings.model_dump(), "data_dir": tmp_path / "clean"}), Spy(shared_encoder))
    clean.index_folders([lib])
    assert {p: s for p, (s, _) in _state(clean).items()} == {p: s for p, (s, _) in _state(svc).items()}
    for path in _state(svc):
        a, b = svc.catalog.get_by_path(path), clean.catalog.get_by_path(path)
        np.testing.assert_allclose(svc.index.reconstruct(a.id), clean.index.reconstruct(b.id), atol=1e-5)


def test_faiss_file_lost_or_corrupt_is_rebuilt_from_sqlite(
    tmp_path: Path, settings: Settings, shared_encoder: Encoder
) -> None:
    lib = tmp_path / "lib"
    make_collection(lib, 6)
    svc = _svc(settings, Spy(shared_encoder))
    svc.index_folders([lib])
    ids = sorted(svc.index.ids().tolist())
    vec = svc.index.reconstruct(ids[0])
    path = settings.index_dir / "content.faiss"
    path.write_bytes(b"garbage")
    again = _svc(settings, Spy(shared_encoder))
    assert sorted(again.index.ids().tolist()) == ids
    np.testing.assert_array_equal(again.index.reconstruct(ids[0]), vec)
    path.unlink()
    assert _svc(settings, Spy(shared_encoder)).index.ntotal == 6


def test_stale_faiss_file_is_reconciled(tmp_path: Path, settings: Settings, shared_encoder: Encoder) -> None:
    """A FAISS file saved before the last batches (a crash between commit and save) gets them added."""
    lib = tmp_path / "lib"
    make_collection(lib, 4)
    svc = _svc(settings, Spy(shared_encoder))
    svc.index_folders([lib])
    stale = (settings.index_dir / "content.faiss").read_bytes()
    make_collection(lib / "more", 3)
    svc.index_folders([lib])
    (settings.index_dir / "content.faiss").write_bytes(stale)
    assert _svc(settings, Spy(shared_encoder)).index.ntotal == 7


def test_cancel_stops_and_the_next_run_resumes(tmp_path: Path, settings: Settings, shared_encoder: Encoder) -> None:
    lib = tmp_path / "lib"
    make_collection(lib, 20)
    cancel = threading.Event()
    progress = Progress()
    progress.listen(lambda s: cancel.set() if s.indexed >= 4 else None)
    svc = _svc(settings, Spy(shared_encoder))
    r = svc.index_folders([lib], progress, cancel)
    assert r.cancelled and 4 <= r.indexed < 20
    assert progress.snapshot().state == "cancelled"
    spy = Spy(shared_encoder)
    r2 = _svc(settings, spy).index_folders([lib])
    assert r2.indexed + r.indexed == 20 and spy.embedded == r2.indexed


def test_a_different_model_is_refused_for_an_existing_index(
    tmp_path: Path, settings: Settings, shared_encoder: Encoder
) -> None:
    from indexing.catalog import SpaceMismatchError
    from models.content import ContentEncoder
    from models.tiny import write_tiny_models

    lib = tmp_path / "lib"
    make_collection(lib, 3)
    _svc(settings, shared_encoder).index_folders([lib])
    write_tiny_models(tmp_path / "other", seed=9)
    other = ContentEncoder(Settings(models_dir=tmp_path / "other", device="cpu"))
    with pytest.raises(SpaceMismatchError, match="another model"):
        _svc(settings, other).index_folders([lib])


def test_duplicate_files_are_both_indexed_and_share_a_thumbnail(
    tmp_path: Path, settings: Settings, shared_encoder: Encoder
) -> None:
    lib = tmp_path / "lib"
    a = save_jpeg(lib / "a.jpg", pattern(60, 40, 1))
    b = lib / "copy" / "a.jpg"
    b.parent.mkdir()
    shutil.copy(a, b)
    svc = _svc(settings, Spy(shared_encoder))
    assert svc.index_folders([lib]).indexed == 2
    ra, rb = svc.catalog.get_by_path(str(a)), svc.catalog.get_by_path(str(b))
    assert ra.hash == rb.hash and ra.id != rb.id
    b.unlink()
    svc.index_folders([lib])
    assert svc.thumbs.read(ra.hash) is not None  # still used by a.jpg


def test_style_spaces_are_added_later_without_reembedding_content(
    tmp_path: Path, settings: Settings, shared_encoder: Encoder
) -> None:
    from services import default_style_encoders

    lib = tmp_path / "lib"
    files = make_collection(lib, 9)
    write_broken(lib / "bad")
    first = Spy(shared_encoder)
    svc = StyleSeek(settings, content_encoder=first, style_encoders={})  # content model alone
    assert svc.index_folders([lib]).indexed == 9
    assert svc.catalog.count_vectors("style") == 0

    styles = default_style_encoders(settings)  # the tiny style models are in the models dir
    assert set(styles) == {"style", "texture"}
    later = Spy(shared_encoder)
    svc2 = StyleSeek(settings, content_encoder=later, style_encoders=styles)
    r = svc2.index_folders([lib])
    assert (r.filled, r.indexed, later.embedded) == (9, 0, 0)  # only the missing spaces were computed
    ids = sorted(svc2.index.ids().tolist())
    for space in ("style", "texture"):
        assert sorted(svc2.vector_index(space).ids().tolist()) == ids
        assert svc2.catalog.count_vectors(space) == 9
    assert svc2.index_folders([lib]).filled == 0  # nothing left to add

    files[0].unlink()  # a deletion leaves every space
    svc2.index_folders([lib])
    for space in ("content", "style", "texture"):
        assert svc2.vector_index(space).ntotal == 8


def test_without_style_weights_indexing_uses_content_alone(tmp_path: Path, shared_encoder: Encoder) -> None:
    from models.tiny import write_tiny_models
    from services import default_style_encoders

    write_tiny_models(tmp_path / "m", keys=("content",))
    s = Settings(data_dir=tmp_path / "d", models_dir=tmp_path / "m", batch_size=4)
    assert default_style_encoders(s) == {}
    assert default_style_encoders(Settings(data_dir=tmp_path / "d", style_search=False)) == {}
    make_collection(tmp_path / "lib", 3)
    svc = StyleSeek(s, content_encoder=shared_encoder)
    r = svc.index_folders([tmp_path / "lib"])
    assert r.indexed == 3 and r.spaces == ["content"]


def test_a_run_says_it_loads_models_and_that_it_is_cancelling(tmp_path: Path) -> None:
    import threading

    from indexing.jobs import Jobs
    from indexing.work import RunReport

    seen: list[str] = []
    go = threading.Event()

    def run(paths: list[Path], progress: Progress, cancel: threading.Event) -> RunReport:
        seen.append(progress.snapshot().state)
        go.wait(10)
        progress.update(state="indexing")  # a run going on: a cancel asked for stays said
        seen.append(progress.snapshot().state)
        progress.update(state="cancelled" if cancel.is_set() else "done")
        return RunReport([str(p) for p in paths])

    jobs = Jobs()
    job = jobs.start([tmp_path], run)
    assert jobs.cancel().state == "cancelling"
    go.set()
    job.thread.join(10)
    assert seen == ["loading", "cancelling"] and jobs.progress().state == "cancelled"
    assert not jobs.progress().running
