"""One run's units of work: a file's job and its outcome, the run's report, and what each file costs on its
own (read and hash in one pass, its catalog columns), with a bounded map that keeps memory flat; and what a
picture's leaving the library means (forget)."""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from basics import Once
from geo.gazetteer import GAZETTEER, PLACE_VERSION, Place
from indexing.catalog import META_VERSION, Catalog
from indexing.gpu import cpu_reason, jpeg_head
from indexing.hashing import HashKind, hash_bytes, hasher
from indexing.imageio import Decoded, ImageError, decode, probe
from indexing.metadata import merge
from indexing.scan import FileEntry
from indexing.thumbs import ThumbCache
from indexing.vectors import VectorIndex
from settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Job:
    entry: FileEntry
    spaces: tuple[str, ...]  # the spaces to embed this file into
    replace_id: int | None = None  # the row of the same path whose bytes changed
    old_hash: str | None = None
    fill_id: int | None = None  # an indexed, unchanged row that only lacks some spaces
    redo: bool = False  # an older reader got the pixels wrong (HEIF turned): its thumbnail is redrawn too


@dataclass
class Outcome:
    job: Job
    kind: str  # ready | fill | failed | moved | touched | gpu (read, hashed, probed: to be decoded on the GPU)
    hash: str | None = None
    error: str | None = None
    prepared: dict[str, Any] = field(default_factory=dict)  # space -> model input
    row: dict = field(default_factory=dict)
    moved_id: int | None = None
    data: Any = None  # a file's bytes or path (or the decoder's CodeStream of them) while they wait for the GPU
    vectors: dict[str, Any] = field(default_factory=dict)  # space -> embedding, where the GPU stage made it


@dataclass
class RunReport:
    folders: list[str]
    total: int = 0
    indexed: int = 0
    unchanged: int = 0
    failed: int = 0
    moved: int = 0
    removed: int = 0
    filled: int = 0  # unchanged images that gained a space they lacked
    skipped: int = 0  # files that are not pictures: videos, Live Photo movies, sidecars, edit files, others
    skipped_by_kind: dict[str, int] = field(default_factory=dict)
    cancelled: bool = False
    seconds: float = 0.0
    spaces: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return self.__dict__.copy()


STREAM_BYTES = 64 << 20  # larger files are hashed in chunks and decoded from their path, never held whole


def place_columns(p: Place | None) -> dict:
    return {
        "place_city": p.city if p else None,
        "place_region": p.region if p else None,
        "place_country_code": p.country_code if p else None,
        "place_distance_km": p.distance_km if p else None,
        "place_detail": p.detail if p else None,
        "place_version": PLACE_VERSION if p else None,
    }


def add_places(rows: list[dict]) -> None:
    """Each catalog row's place columns: the gazetteer's nearest place to its position, in one batch."""
    located = [r for r in rows if r.get("gps_lat") is not None]
    for r in rows:
        r.update(place_columns(None))
    for r, p in zip(located, GAZETTEER.nearest([(r["gps_lat"], r["gps_lon"]) for r in located]), strict=True):
        r.update(place_columns(p))


def failure(err: Exception, path: str) -> str:
    """Why a file could not be indexed, in the words the report shows: what the reader said, an unreadable file,
    or an unexpected error (logged with its traceback: a bug to fix, never a stopped run)."""
    if isinstance(err, ImageError):
        return str(err)
    if isinstance(err, OSError):
        return f"unreadable: {err.strerror or err}"
    log.exception("unexpected error on %s", path)
    return f"unexpected error: {type(err).__name__}: {err}"


def probe_row(head: bytes, entry: FileEntry, max_pixels: int) -> dict | str:
    """A JPEG's catalog columns from its header bytes, or why not (the CPU path then reads the file). Runs in
    the probe processes (scan_files): parsing EXIF and XMP is Python that holds the GIL, and in the reader threads it
    starved the GPU decoder's thread (BENCHMARKS.md, GPU indexing)."""
    try:
        return metadata_row(probe(head, name=entry.path, max_pixels=max_pixels), entry)
    except Exception as e:  # noqa: BLE001 - whatever it is, the CPU path reads the file again and reports it
        return f"{type(e).__name__}: {e}"


@dataclass
class Scan:
    """What a probe process made of a file for a GPU run: its content hash and size, and its catalog columns
    where the GPU decoder may take it; or why not."""

    hash: str | None = None
    size: int = 0
    error: str | None = None  # it could not be read: the failure the report shows
    row: dict | None = None  # the catalog columns from its header, where the GPU decoder may take it
    cpu: str | None = None  # why the CPU path takes it instead (not a JPEG, too big, an ICC profile, ...)


def scan_files(
    entries: list[FileEntry], kind: HashKind, max_pixels: int, gpu_pixels: int, progressive: bool
) -> list[Scan]:
    """Read, hash, check and probe files for a GPU run, in a probe process: per file, the work that would
    otherwise be Python in the indexing process, whose every hand-over of the GIL delays the decoder's
    thread (BENCHMARKS.md). The decoder then reads the file again by its path, from the page cache; a file
    changed in between is seen as changed by the next run (its size or time differs from the scan's)."""
    out = []
    for e in entries:
        try:
            data, h, size = read_and_hash(e.path, kind)
        except OSError as err:
            out.append(Scan(error=failure(err, e.path)))
            continue
        scan = Scan(hash=h, size=size)
        try:
            scan.cpu = cpu_reason(data, gpu_pixels, progressive) if data else "too big to hold, or empty"
        except Exception as err:  # noqa: BLE001 - one odd file: the CPU path reads it and says what is wrong
            scan.cpu = f"check: {type(err).__name__}: {err}"
        if scan.cpu is None and data:
            got = probe_row(jpeg_head(data), e, max_pixels)
            got = probe_row(data, e, max_pixels) if isinstance(got, str) else got  # the header alone was not enough
            if isinstance(got, str):
                scan.cpu = f"probe: {got}"  # the CPU path reads it and says why
            else:
                scan.row = got
        out.append(scan)
    return out


def _probe_processes() -> ProcessPoolExecutor:
    import multiprocessing

    n = max(1, min(8, (os.cpu_count() or 2) // 2))
    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))  # no fork of CUDA and threads
    for _ in range(n):  # all started now, while the run scans (each imports the package: seconds of a core)
        pool.submit(os.getpid)
    return pool


PROBES = Once(_probe_processes)  # started on the first GPU run, kept for the process's life


def decode_for_index(source: bytes | str, name: str, settings: Settings, min_side: int) -> Decoded:
    """A picture decoded as indexing needs it: big enough for every model's input and for the thumbnail."""
    return decode(
        source,
        name=name,
        min_side=min_side,
        min_long=settings.thumbnail_size,
        max_pixels=settings.max_image_pixels,
        big_bytes=settings.big_decode_mb << 20,
    )


def read_and_hash(path: str, kind: HashKind) -> tuple[bytes | None, str, int]:
    """(the bytes, or None for a big file, the content hash of `kind` (the catalog's), the size). One read
    either way."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= STREAM_BYTES:
            data = f.read()
            return data, hash_bytes(data, kind), len(data)
        h = hasher(kind)
        for chunk in iter(lambda: f.read(8 << 20), b""):
            h.update(chunk)
        return None, h.hexdigest(), size


def metadata_row(dec: Decoded, entry: FileEntry) -> dict:
    """The catalog's columns for a decoded (or probed) picture, its XMP sidecars and its companions."""
    md = merge(dec.exif, dec.xmp, entry.sidecars)
    if dec.orientation_source:
        md.sources["orientation"] = dec.orientation_source
    return {
        "format": dec.format,
        "width": dec.width,
        "height": dec.height,
        "orientation": dec.exif.orientation,
        "orientation_applied": dec.orientation_applied,
        **md.columns(),
        "companions": json.dumps(list(entry.companions)) if entry.companions else None,
        "sidecars": json.dumps(list(entry.sidecars)) if entry.sidecars else None,
        "extra_sig": entry.extra_sig,
        "notes": "; ".join(dict.fromkeys(dec.notes + md.notes)) or None,
        "meta_version": META_VERSION,
    }


def encode_outcomes(encoders: dict[str, Any], batch: list[Outcome]) -> dict[str, tuple[list[int], Any]]:
    """space -> (positions in batch, vectors): each model sees one batch of the images that need it; what the
    GPU stage embedded already is taken as it is."""
    out = {}
    for space, enc in encoders.items():
        pos = [i for i, o in enumerate(batch) if space in o.prepared]
        made = [i for i, o in enumerate(batch) if space in o.vectors]
        vecs = [enc.encode_prepared([batch[i].prepared[space] for i in pos])] if pos else []
        vecs += [np.stack([batch[i].vectors[space] for i in made])] if made else []
        if vecs:
            out[space] = (pos + made, np.concatenate(vecs))
    return out


def bounded_map(
    pool: ThreadPoolExecutor, fn: Callable[[Job], Outcome], items: Iterable[Job], ahead: int, cancel: threading.Event
) -> Iterator[Outcome]:
    """pool.map in order with at most `ahead` jobs in flight, so memory stays flat on huge folders."""
    it = iter(items)
    pending: deque[Future[Outcome]] = deque()
    for job in it:
        pending.append(pool.submit(fn, job))
        if len(pending) >= ahead:
            break
    try:
        while pending:
            out = pending.popleft().result()
            if not cancel.is_set():
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(fn, nxt))
            yield out
    finally:
        for f in pending:
            f.cancel()


def forget(
    catalog: Catalog, indices: Iterable[VectorIndex], thumbs: ThumbCache, ids: list[int], delete: Callable[[], None]
) -> None:
    """Pictures leave the library: `delete` takes their rows out of SQLite first (the truth: a crash after it
    leaves FAISS to be reconciled by ids), then the vector indices drop them and the caches drop the thumbnails
    and renditions of contents no other picture has."""
    rows = catalog.get_many(ids)
    delete()
    for index in indices:
        index.remove(ids)
    for h in {r.hash for r in rows.values() if r.hash}:
        if not catalog.hash_in_use(h):
            thumbs.remove(h)


def calibrate_int8(
    encoders: dict[str, Any],
    folders: list[str],
    pool: ThreadPoolExecutor,
    progress: Any,
    min_side: int,
    settings: Any,
) -> None:
    """int8 without its quantised towers yet: calibrate them on the collection's own first pictures
    (STYLESEEK_CALIBRATION_IMAGES of them)."""
    from indexing.imageio import decode
    from indexing.scan import iter_image_files

    need = {s: enc for s, enc in encoders.items() if enc.needs_calibration}
    if not need:
        return
    n, max_pixels = settings.calibration_images, settings.max_image_pixels
    entries = list(itertools.islice((e for f in folders for e in iter_image_files(Path(f))), n))
    progress.update(message=f"calibrating int8 on {len(entries)} of your pictures")

    def prep(e: FileEntry) -> dict[str, Any] | None:
        try:
            img = decode(e.path, name=e.path, min_side=min_side, max_pixels=max_pixels).image
            return {s: enc.prepare(img) for s, enc in need.items()}
        except ImageError:
            return None

    samples = [x for x in pool.map(prep, entries) if x]
    if samples:
        for s, enc in need.items():
            enc.calibrate([x[s] for x in samples])
            log.info("%s: int8 calibrated on %d pictures", s, len(samples))


def backfill_places(catalog: Catalog) -> None:
    """Images with GPS placed by an older method, or not at all: looked up again without reading files."""
    from geo.gazetteer import GAZETTEER

    todo = catalog.lacking_place(PLACE_VERSION)
    if not todo:
        return
    places = GAZETTEER.nearest([(lat, lon) for _, lat, lon in todo])
    with catalog.transaction() as t:
        for (iid, _, _), p in zip(todo, places, strict=True):
            Catalog.set_place(t, iid, place_columns(p))
