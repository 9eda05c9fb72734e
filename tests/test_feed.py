"""A GPU run's feed (indexing.feed): files read, hashed, checked and probed in the probe processes, on files made
by ImageMagick and exiftool; the outcomes it decides (failed, touched, moved, the GPU's, the CPU path's), its
bounds and its fallbacks; and an Indexer's second GPU run over moved, touched and changed files."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from indexing import feed
from indexing.hashing import HashKind, hash_bytes
from indexing.scan import FileEntry
from indexing.work import Job, Outcome, Scan, scan_files
from tests.realfiles import exif, run, scene, stored


def entry(p: Path) -> FileEntry:
    return FileEntry(str(p), p.stat().st_size if p.exists() else 0, 1.0)


def test_scan_files_reads_hashes_checks_and_probes(tmp_path: Path) -> None:
    up = scene(tmp_path / "up.png", 200, 150)
    phone = exif(stored(up, 6, tmp_path / "phone.jpg"), "-Orientation#=6", "-DateTimeOriginal=2023:07:14 18:30:05")
    run("convert", up, "-colorspace", "CMYK", tmp_path / "cmyk.jpg")
    run("convert", up, "-quality", "90", tmp_path / "whole.jpg")
    whole = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) // 2])  # a copy cut short
    (tmp_path / "empty.jpg").write_bytes(b"")
    files = [phone, up, tmp_path / "cmyk.jpg", tmp_path / "cut.jpg", tmp_path / "empty.jpg", tmp_path / "gone.jpg"]
    got = scan_files([entry(p) for p in files], HashKind.XXH3, 10**9, 10**8, True)
    assert [s.hash for s in got[:5]] == [hash_bytes(p.read_bytes(), HashKind.XXH3) for p in files[:5]]
    assert [s.size for s in got] == [p.stat().st_size for p in files[:5]] + [0]
    g = got[0]  # the phone's JPEG: for the GPU, its columns read from the header, as stored (turned by EXIF)
    assert g.cpu is None and g.error is None and g.row is not None
    assert (g.row["width"], g.row["height"], g.row["orientation"]) == (200, 150, 6)
    assert g.row["taken_at"] == "2023-07-14T18:30:05"
    assert got[1].cpu == "not a JPEG" and got[1].row is None
    assert "CMYK" in (got[2].cpu or "") and got[2].row is None
    assert "cut short" in (got[3].cpu or "") and got[3].row is None
    assert got[4].size == 0 and got[4].row is None
    assert got[5].hash is None and "unreadable" in (got[5].error or "")
    # a progressive JPEG where the decoder refuses them; a picture over the GPU's pixels: the CPU path's
    run("convert", up, "-interlace", "JPEG", tmp_path / "prog.jpg")
    prog, big = scan_files([entry(tmp_path / "prog.jpg"), entry(phone)], HashKind.BLAKE2B, 10**9, 20_000, False)
    assert "progressive" in (prog.cpu or "") and "MP" in (big.cpu or "")
    assert big.hash == hash_bytes(phone.read_bytes(), HashKind.BLAKE2B)  # the catalog's hash kind


def job(name: str, **kw: object) -> Job:
    return Job(FileEntry(f"/lib/{name}.jpg", 10, 1.0), ("content",), **kw)  # type: ignore[arg-type]


ROW = {"width": 4, "height": 3}


def test_decide_each_outcome() -> None:
    moved = {"m": 7}
    gone = lambda j, h: Outcome(j, "moved", hash=h, moved_id=moved[h]) if h in moved else None  # noqa: E731
    ok = Scan(hash="h", size=10, row=ROW)
    assert (out := feed.decide(job("a"), ok, gone)) is not None
    assert (out.kind, out.data, out.row, out.hash) == ("gpu", "/lib/a.jpg", ROW, "h")  # the decoder reads the path
    assert feed.decide(job("a"), Scan(hash="h", size=10, cpu="not a JPEG"), gone) is None  # the CPU path's
    failed = feed.decide(job("a"), Scan(error="unreadable: gone"), gone)
    assert failed is not None and (failed.kind, failed.error) == ("failed", "unreadable: gone")
    empty = feed.decide(job("a"), Scan(hash="e", size=0, cpu="empty"), gone)
    assert empty is not None and empty.error == "empty file (0 bytes)"
    was = feed.decide(job("a"), Scan(hash="m", size=10, row=ROW), gone)
    assert was is not None and (was.kind, was.moved_id) == ("moved", 7)
    same = job("a", replace_id=3, old_hash="h")  # a new time, the same bytes: its metadata only
    touched = feed.decide(same, ok, gone)
    assert touched is not None and (touched.kind, touched.row) == ("touched", ROW)
    assert feed.decide(same, Scan(hash="h", size=10, cpu="not a JPEG"), gone) is None  # the CPU path probes it
    fill = feed.decide(job("a", fill_id=5), Scan(hash="m", size=10, row=ROW), gone)  # lacks a space: no move
    assert fill is not None and fill.kind == "gpu"


def test_scanned_bounds_what_is_in_flight_and_falls_back_to_the_cpu_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "CHUNK", 2)
    jobs = [job(f"f{i}") for i in range(12)]
    submitted: list[list[str]] = []
    in_flight: list[int] = []
    pending: list[Future] = []

    def scan(chunk: list[Job]) -> Future:
        submitted.append([j.entry.path for j in chunk])
        in_flight.append(len(pending) - sum(f.done() for f in pending))
        f: Future = Future()
        if len(submitted) == 3:  # a broken pool: these files go through the CPU path
            f.set_exception(RuntimeError("a process was killed"))
        else:  # every file whose name ends in 1 is a PNG
            f.set_result([Scan(hash=j.entry.path, size=10, row=None if j.entry.path.endswith("1.jpg") else ROW)
                          for j in chunk])  # fmt: skip
        pending.append(f)
        return f

    cpu_paths: list[str] = []

    def cpu(j: Job) -> Outcome:
        cpu_paths.append(j.entry.path)
        time.sleep(0.01)
        return Outcome(j, "ready", hash="cpu")

    with ThreadPoolExecutor(2) as pool:
        outs = list(feed.scanned(jobs, scan, lambda j, s: feed.decide(j, s, lambda *_: None), cpu, pool, 4,
                                 threading.Event()))  # fmt: skip
    assert sorted(o.job.entry.path for o in outs) == sorted(j.entry.path for j in jobs)  # each once
    assert [p for c in submitted for p in c] == [j.entry.path for j in jobs]  # chunks of 2, in order
    assert len(submitted) == 6 and max(len(c) for c in submitted) == 2
    assert sorted(cpu_paths) == ["/lib/f1.jpg", "/lib/f11.jpg", "/lib/f4.jpg", "/lib/f5.jpg"]  # PNGs, broken chunk
    gpu = [o.job.entry.path for o in outs if o.kind == "gpu"]
    assert gpu == [j.entry.path for j in jobs if j.entry.path not in cpu_paths]  # the scans' order kept


def test_a_scan_that_cannot_be_submitted_sends_its_files_to_the_cpu_path() -> None:
    def scan(chunk: list[Job]) -> Future:
        raise RuntimeError("no probe processes")

    with ThreadPoolExecutor(2) as pool:
        outs = list(feed.scanned([job(f"f{i}") for i in range(5)], scan, lambda j, s: None,
                                 lambda j: Outcome(j, "ready", hash="cpu"), pool, 8, threading.Event()))  # fmt: skip
    assert sorted(o.job.entry.path for o in outs) == [f"/lib/f{i}.jpg" for i in range(5)]
    assert {o.hash for o in outs} == {"cpu"}


def test_a_broken_probe_pool_is_started_again(tmp_path: Path) -> None:
    from concurrent.futures.process import BrokenProcessPool

    from indexing.work import PROBES

    run("convert", scene(tmp_path / "up.png", 120, 90), "-quality", "90", tmp_path / "a.jpg")
    pool = PROBES.get()
    pool.submit(os.getpid).result(timeout=120)
    for proc in list(pool._processes.values()):  # as the kernel's OOM killer would
        proc.kill()
    with pytest.raises(BrokenProcessPool):
        pool.submit(os.getpid).result(timeout=60)
    scan = feed.scan_in_probes(HashKind.XXH3, 10**9, 10**8, True)
    (got,) = scan([Job(entry(tmp_path / "a.jpg"), ("content",))]).result(timeout=120)
    assert got.row is not None and got.row["width"] == 120
    assert PROBES.get() is not pool


def test_scanned_stops_submitting_when_cancelled() -> None:
    jobs = [job(f"f{i}") for i in range(64)]
    cancel = threading.Event()
    submitted = 0

    def scan(chunk: list[Job]) -> Future:
        nonlocal submitted
        submitted += 1
        f: Future = Future()
        f.set_result([Scan(hash="h", size=10, row=ROW) for _ in chunk])
        return f

    with ThreadPoolExecutor(1) as pool:
        got = feed.scanned(
            jobs, scan, lambda j, s: feed.decide(j, s, lambda *_: None), lambda j: None, pool, 16, cancel
        )  # type: ignore[arg-type,return-value]
        next(got)
        cancel.set()
        rest = list(got)
    # two chunks (16 files) at the start, one in place of the first taken before its files came out; none after
    assert submitted == 16 // feed.CHUNK + 1 and 1 + len(rest) == submitted * feed.CHUNK


def test_a_second_gpu_run_sees_moved_touched_and_changed_files(settings, shared_encoder, tmp_path: Path) -> None:  # noqa: ANN001
    from services import StyleSeek
    from settings import Settings
    from tests.test_gpu_path import PillowStandIn, jpegs

    lib = jpegs(tmp_path / "lib", [(200 + 8 * i, 150) for i in range(6)])
    svc = StyleSeek(
        Settings(**{**settings.model_dump(), "batch_size": 4, "content_first": "off"}), content_encoder=shared_encoder
    )
    first = svc.indexer(gpu=PillowStandIn()).run([lib])
    assert (first.indexed, first.failed) == (6, 0)
    moved_id, touched_id = svc.image_by_path(lib / "s0.jpg").id, svc.image_by_path(lib / "s1.jpg").id
    (lib / "sub").mkdir()
    os.rename(lib / "s0.jpg", lib / "sub" / "s0.jpg")  # moved: the same picture
    os.utime(lib / "s1.jpg", (1.7e9, 1.7e9))  # touched: a new time, the same bytes
    exif(lib / "s2.jpg", "-DateTimeOriginal=2021:01:02 03:04:05")  # changed: new bytes, a new date
    Image.new("RGB", (90, 60), (10, 200, 30)).save(lib / "new.png")  # the CPU path's
    stand_in = PillowStandIn()
    second = svc.indexer(gpu=stand_in).run([lib])
    assert (second.moved, second.indexed, second.failed, second.removed) == (1, 2, 0, 0)
    assert svc.image_by_path(lib / "sub" / "s0.jpg").id == moved_id
    assert svc.image_by_path(lib / "s1.jpg").id == touched_id  # kept, with its new time
    assert svc.catalog.known_under(svc.catalog.add_folder(str(lib)))[str(lib / "s1.jpg")].mtime == 1.7e9
    assert svc.image_by_path(lib / "s2.jpg").taken_at == "2021-01-02T03:04:05"
    assert stand_in.seen == 1  # only the changed JPEG was decoded again
    for p in [*lib.rglob("*.jpg"), lib / "new.png"]:
        rec = svc.image_by_path(p)
        assert rec is not None and svc.vector_index("content").reconstruct(rec.id) is not None, p


def test_once_resets_only_the_value_it_was_told_is_broken() -> None:
    from basics import Once

    made: list[object] = []
    once = Once(lambda: made.append(object()) or made[-1])
    first = once.get()
    once.reset(first)  # broken: the next get makes another
    second = once.get()
    assert second is not first and once.get() is second
    once.reset(first)  # a thread that saw the old one, late: the new one stays
    assert once.get() is second and len(made) == 2


def test_a_check_that_fails_on_one_file_sends_only_that_one_to_the_cpu_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import indexing.work

    up = scene(tmp_path / "up.png", 120, 90)
    for name, quality in (("a", "90"), ("b", "80")):
        run("convert", up, "-quality", quality, tmp_path / f"{name}.jpg")
    real = indexing.work.cpu_reason
    odd = (tmp_path / "a.jpg").read_bytes()

    def cpu_reason(data: bytes, *a: object) -> str | None:
        if data == odd:
            raise ValueError("a marker it did not expect")
        return real(data, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(indexing.work, "cpu_reason", cpu_reason)
    a, b = scan_files([entry(tmp_path / "a.jpg"), entry(tmp_path / "b.jpg")], HashKind.XXH3, 10**9, 10**8, True)
    assert a.cpu == "check: ValueError: a marker it did not expect" and a.row is None and a.hash is not None
    assert b.cpu is None and b.row is not None
