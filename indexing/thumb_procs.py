"""The GPU path's thumbnail JPEGs encoded in processes of their own (issue 13): the 400 px pictures the GPU made
are copied into a shared-memory slot and a small pool of processes encodes them with Pillow and writes the
files. Nothing of it runs in the indexing process's Python but the copy and the hand-over: its GIL is what the
GPU decoder's calls wait for (beside Pillow in 8 threads the decoder fell from 971 to 152 img/s; beside
nvImageCodec's encoder, which holds the GIL half its call, to 220; BENCHMARKS.md), and torchvision's GPU
encoder, which leaves the GIL alone, synchronises twice a picture and keeps up with ~630 img/s at most.

Slots are reused in turn; a batch waits for a free one, so memory stays bounded. A batch whose encoding fails
is logged and left: each missing thumbnail is drawn from its file on the first request, as a lost one is.
"""

from __future__ import annotations

import logging
import os
import queue
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

QUALITY = 85  # as the GPU's encoder wrote them: 4:2:0, about 16 KB a 400 px photo


class ThumbProcesses:
    def __init__(self, root: Path, side: int, batch: int, processes: int, slots: int = 4) -> None:
        """root: the thumbnail cache's folder; side: the thumbnails' long side; batch: pictures a batch at most."""
        self._root, self._side = str(root), side
        self._pool = ProcessPoolExecutor(processes, mp_context=get_context("spawn"))  # no fork of CUDA, threads
        for _ in range(processes):  # started now, while the run's first batches are read
            self._pool.submit(os.getpid)
        self._slots = [SharedMemory(create=True, size=max(1, batch) * side * side * 3) for _ in range(slots)]
        self._free: queue.Queue[int] = queue.Queue()
        for i in range(slots):
            self._free.put(i)

    def submit(self, small: list[Any], hashes: list[str], redo: list[bool]) -> Future:
        """Encode and write the thumbnails `small` ((h, w, 3) uint8 tensors, on the GPU or the host, whole on the
        calling thread's stream) under their hashes (`redo`: even where one is there). Waits for a free slot and
        for the copy; the future is done once the files are written (or the batch failed, logged)."""
        import torch

        i = self._free.get()
        try:
            flat = torch.cat([t.reshape(-1) for t in small]) if small else torch.empty(0, dtype=torch.uint8)
            torch.frombuffer(self._slots[i].buf, dtype=torch.uint8, count=flat.numel()).copy_(flat)
            entries, offset = [], 0
            for t, h, r in zip(small, hashes, redo, strict=True):
                entries.append((h, offset, int(t.shape[0]), int(t.shape[1]), r))
                offset += t.numel()
            work = self._pool.submit(encode_slot, self._slots[i].name, entries, self._root, self._side)
        except BaseException:
            self._free.put(i)
            raise
        done: Future = Future()

        def finished(f: Future) -> None:
            self._free.put(i)
            if (err := f.exception()) is not None:
                log.warning("thumbnails of a batch of %d failed (%s): drawn on first request", len(entries), err)
            done.set_result(None)

        work.add_done_callback(finished)
        return done

    def close(self) -> None:
        """After the last batch's future (or to stop): the processes end, the slots are freed. Once."""
        slots, self._slots = self._slots, []
        self._pool.shutdown(cancel_futures=True)
        for s in slots:
            s.close()
            s.unlink()


_ATTACHED: dict[str, SharedMemory] = {}


def encode_slot(name: str, entries: list[tuple[str, int, int, int, bool]], root: str, side: int) -> int:
    """In a pool process: each picture of the slot as a JPEG file in the thumbnail cache; the number written."""
    import numpy as np
    from PIL import Image

    from indexing.imageio import thumbnail_bytes
    from indexing.thumbs import ThumbCache

    if (shm := _ATTACHED.get(name)) is None:  # (the pool shares the indexing process's resource tracker)
        shm = _ATTACHED[name] = SharedMemory(name=name)
    cache, written = ThumbCache(Path(root)), 0
    for content_hash, offset, h, w, redo in entries:
        if not redo and cache.read(content_hash):
            continue
        pixels = np.ndarray((h, w, 3), np.uint8, buffer=shm.buf, offset=offset)
        cache.write(content_hash, thumbnail_bytes(Image.fromarray(pixels), side, quality=QUALITY, fmt="JPEG"))
        written += 1
    return written


__all__ = ["QUALITY", "ThumbProcesses", "encode_slot"]
