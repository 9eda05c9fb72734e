"""The GPU path's stages (issue 13): the batched decode with every resize, and the towers, each in a thread
of its own with short queues between them; the thumbnails' JPEGs in CPU threads; the files read, hashed and
probed by the probe processes (indexing.feed): all at once. The towers take the inputs where they were made,
in GPU memory (replaying CUDA graphs: a few GIL hand-overs a batch); only the embeddings and the 400 px
thumbnails come back to the host.

    probe processes -> main: add(file), submit(batch) -> [decode, resizes] -> [towers] -> main: ready() -> commit
                                                                    -> CPU threads: thumbnail JPEGs, written

The decode thread issues each batch's resizes on a stream of lower priority than the decoder's, so that the
GPU runs them while the hardware engine decodes the next batch. The decoder writes into the buffers of the
batch before last (no memory allocated a batch), once that batch's resizes are done on the GPU. A batch the
decoder cannot take as a whole (an error, GPU memory) and every file it refuses go through the CPU path in the
thumbnail threads, in the same run.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from indexing.gpu import batch_pixels, gpu_memory
from indexing.gpu_resize import prepare_batch
from indexing.thumbs import ThumbCache
from indexing.work import Outcome

log = logging.getLogger(__name__)

DEPTH = 2  # batches waiting before each stage: enough to keep both busy, and GPU memory bounded
# Each GPU call of the stage's threads gives the GIL up and waits to get it back, behind the other threads' Python
# up to the switch interval (5 ms): a shorter one while the stage runs (measured on the H100, BENCHMARKS.md)
SWITCH_INTERVAL = 0.0002
DECODE_THREADS = 1  # batches decoded at once (a decoder and a stream each): 2-4 were slower, BENCHMARKS.md
# The resizes on a stream of normal priority, below the decoder's (it decoded 574 img/s beside them at its own
# priority, 887 a priority lower, 971 alone); a thread of their own was slower twice (BENCHMARKS.md)
PREP_STREAM = True
# Thumbnails by libjpeg-turbo in the CPU threads from the GPU-resized pictures (imageio.jpeg_bytes: 16 KB,
# 4:2:0), else by the GPU's encoder (nvJPEG, 25 KB, 4:4:4) in a thread of its own (JPEG_THREAD, off the
# decoder's): in one run, content 530-562 against 448-468 img/s, all three 424-490 against 404-429 (BENCHMARKS.md)
GPU_JPEG_THUMBS = False
JPEG_THREAD = True
THUMB_THREADS = 0  # the thumbnails' CPU threads (and refused files' CPU path); 0: half the workers (8: slower)
# The towers replay CUDA graphs captured on the stage's full batches (see TorchTower.capture): beside the
# stage's other threads, all three took 4.6-4.7 s against 10.2-14.1 s over 4,096 photos (BENCHMARKS.md)
TOWER_GRAPHS = True
# ... made by the towers' thread while the decode thread decodes the first batches (their inputs wait in a
# deeper queue: MID_DEPTH batches, MID_MEMORY_SHARE of the GPU's memory at most), not before it starts
GRAPHS_WHILE_DECODING = True
MID_DEPTH, MID_MEMORY_SHARE = 16, 0.04
# Files handed to the decoder as nvImageCodec CodeStreams made on the main thread (of paths or bytes), not as
# what it wraps inside its call: beside the stage's other threads (then readers, thumbnail JPEGs, commits) the
# decoder ran 712-718 img/s given CodeStreams against 544-560 given bytes (BENCHMARKS.md)
CODE_STREAMS = True


BUFFERS = 2  # decoded batches whose GPU buffers the decoder keeps: one being decoded, one being resized


class GpuStage:
    def __init__(
        self,
        decoder: Any,
        encoders: dict[str, Any],
        thumbs: ThumbCache,
        settings: Any,
        cpu: Callable[[Outcome], Outcome],
        workers: int,
    ) -> None:
        """decoder: GpuDecoder (or a stand-in with its interface); cpu: a file's CPU path, for what it refuses;
        settings: the batch size and the thumbnails' size."""
        self._decoder, self._encoders, self._thumbs = decoder, encoders, thumbs
        self._thumb_side, self._batch_size, self._cpu = settings.thumbnail_size, settings.batch_size, cpu
        self._gpu_jpeg = GPU_JPEG_THUMBS and hasattr(decoder, "encode_jpeg")
        self._code_streams = CODE_STREAMS and hasattr(decoder, "code_stream")
        self._pending: list[Outcome] = []
        self._pixels = 0
        self._batch_pixels = batch_pixels(gpu_memory(decoder), BUFFERS)
        if hasattr(decoder, "plan"):  # before its decode threads make their decoders
            decoder.plan(self._batch_size, self._batch_pixels)
        self._jpeg_thread = JPEG_THREAD and self._gpu_jpeg  # (the CPU threads' JPEGs need no thread to start)
        t = time.perf_counter()  # before the decoder's threads start: the captures then have the GPU to themselves
        self._graphs_later = TOWER_GRAPHS and GRAPHS_WHILE_DECODING
        for e in encoders.values() if TOWER_GRAPHS and not self._graphs_later else ():
            self._capture(e)
        self._in: queue.Queue = queue.Queue(DEPTH)
        self._mid: queue.Queue = queue.Queue(self._mid_depth(decoder) if self._graphs_later else DEPTH)
        self._jpg: queue.Queue = queue.Queue(DEPTH)  # thumbnails to encode, to the JPEG thread
        self._out: queue.Queue = queue.Queue()
        self._writers = THUMB_THREADS or max(2, workers // 2)
        self._pool = ThreadPoolExecutor(self._writers, thread_name_prefix="gpu-thumbs")
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.seconds: Counter = Counter({"waiting for the towers' graphs": time.perf_counter() - t})  # where time goes
        self._seconds_lock = threading.Lock()
        self._decoding = DECODE_THREADS  # decode threads still running: the last one out tells the towers
        loops = [(f"gpu-decode-{i}", self._decode_loop) for i in range(DECODE_THREADS)]
        if self._jpeg_thread:
            loops.append(("gpu-jpegs", self._jpeg_loop))
        self._threads = [
            threading.Thread(target=self._run, args=(loop,), name=name, daemon=True)
            for name, loop in [*loops, ("gpu-towers", self._tower_loop)]
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def prewarm(decoder: Any, batch_size: int) -> None:
        """At a run's start: the decoder for the stages' batches made and warmed while the folders are scanned."""
        if hasattr(decoder, "prewarm"):
            decoder.prewarm(batch_size, batch_pixels(gpu_memory(decoder), BUFFERS))

    def _mid_depth(self, decoder: Any) -> int:
        """Batches of inputs that may wait for the towers: MID_MEMORY_SHARE of the GPU's memory (DEPTH to MID_DEPTH)."""
        per_batch = self._batch_size * sum(3 * e.input_size**2 * 4 for e in self._encoders.values())  # float32
        memory = gpu_memory(decoder)
        return max(DEPTH, min(MID_DEPTH, int(memory * MID_MEMORY_SHARE) // per_batch)) if memory else DEPTH

    def _capture(self, encoder: Any) -> None:
        """The encoder's image tower as a CUDA graph on the stage's full batches (see TorchTower.capture), once
        for the process; where that fails, the tower runs as it is."""
        try:
            if hasattr(encoder, "capture"):
                encoder.capture(self._batch_size)
        except Exception as err:  # noqa: BLE001 - e.g. GPU memory, an op a graph cannot hold
            key = getattr(getattr(encoder, "spec", None), "key", "?")
            log.warning("no CUDA graph of the %s tower (%s): it runs without", key, err)

    def _took(self, what: str, since: float) -> None:
        with self._seconds_lock:
            self.seconds[what] += time.perf_counter() - since

    # main side ----------------------------------------------------------------------------------------------
    def add(self, o: Outcome) -> None:
        """A JPEG hashed and probed, its bytes or path in `data`; batches go to the decoder by count or by pixels."""
        if self._code_streams and o.data is not None:
            try:
                o.data = self._decoder.code_stream(o.data)
            except Exception:  # noqa: BLE001 - bytes it cannot wrap stay bytes: the decoder refuses or takes them
                if isinstance(o.data, str):  # a file it cannot open (gone since it was read): the CPU path says why
                    self._out.put([self._cpu(o)])
                    return
        self._pending.append(o)
        self._pixels += (o.row.get("width") or 0) * (o.row.get("height") or 0)
        if len(self._pending) >= self._batch_size or self._pixels >= self._batch_pixels:
            self.submit(self._pending)
            self._pending, self._pixels = [], 0

    def take(self, last: bool) -> list[Outcome]:
        """What is finished; with `last`, the batch being gathered is sent and everything waited for."""
        if not last:
            return self.ready()
        if self._pending:
            self.submit(self._pending)
            self._pending, self._pixels = [], 0
        return self.finish()

    def submit(self, batch: list[Outcome]) -> None:
        """Hand a batch of read, hashed and probed JPEGs over; waits while DEPTH batches are queued."""
        t = time.perf_counter()
        self._put(self._in, batch)
        self._took("main waiting for the GPU", t)

    def ready(self) -> list[Outcome]:
        """The outcomes finished so far (embedded, thumbnailed, or through the CPU path)."""
        self._raise()
        out: list[Outcome] = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.extend(self._out.get_nowait())
        return out

    def finish(self) -> list[Outcome]:
        """Everything submitted, once both stages are through; the threads end."""
        self._put(self._in, None)
        for t in self._threads:
            t.join()
        self._pool.shutdown()
        log.info("GPU stage, seconds busy: %s", {k: round(v, 2) for k, v in self.seconds.items()})
        return self.ready()

    def close(self) -> None:
        """Stop (after finish(), or at once on an error or an interrupt: what is in flight the next run redoes)."""
        self._stop.set()
        self._pool.shutdown(cancel_futures=True)
        sys.setswitchinterval(self._interval)

    def _raise(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"the GPU indexing stage failed: {self._error}") from self._error

    def _put(self, q: queue.Queue, item: Any) -> None:
        while not self._stop.is_set():
            self._raise()
            with contextlib.suppress(queue.Full):
                q.put(item, timeout=0.1)
                return

    def _get(self, q: queue.Queue) -> Any:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Empty):
                return q.get(timeout=0.1)
        return None

    # the stages' threads ------------------------------------------------------------------------------------
    def _run(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread, which raises it
            log.exception("GPU stage failed")
            self._error = e
            self._stop.set()

    def _stream(self, priority: int = 0) -> Any:
        """A CUDA stream of the thread's own, so that decoding and the towers overlap on the GPU. The decoder's
        has the higher priority: its short kernels between hardware decodes then do not queue behind the
        towers' (beside the towers: 510 img/s on a plain stream, 669 on a high-priority one; BENCHMARKS.md)."""
        import torch

        if not torch.cuda.is_available():
            return contextlib.nullcontext()
        return torch.cuda.stream(torch.cuda.Stream(priority=priority))

    def _event(self) -> Any:
        """A CUDA event recorded on this thread's stream (None off CUDA): where its work so far ends. A blocking
        one: its waiters sleep (spinning, they took the decoder's cores)."""
        import torch

        if not torch.cuda.is_available():
            return None
        event = torch.cuda.Event(blocking=True)
        event.record()
        return event

    def _decode_loop(self) -> None:
        """Decode a batch into the buffers of the one BUFFERS before, once the GPU has resized that one; then issue
        its resizes (and, without the JPEG thread, encode its thumbnails)."""
        resized: deque = deque()  # per batch, the event after which its resizes are done (None off CUDA)
        with self._stream(priority=-1):
            prep = self._stream(priority=0) if PREP_STREAM else contextlib.nullcontext()
            if hasattr(self._decoder, "warm"):
                try:
                    self._decoder.warm(jpeg=self._gpu_jpeg)
                except Exception as err:  # noqa: BLE001 - a decoder that cannot run fails each batch to the CPU
                    log.warning("the GPU decoder failed its warm-up: %s", err)
            while (batch := self._get(self._in)) is not None:
                t = time.perf_counter()
                if len(resized) >= BUFFERS and (done := resized.popleft()) is not None:
                    done.wait()  # this stream waits on the GPU for the resizes, this thread does not
                try:
                    images = self._decoder.decode([o.data for o in batch], reuse=BUFFERS)
                except Exception as err:  # noqa: BLE001 - e.g. GPU memory: the batch goes through the CPU path
                    log.warning("GPU decoding failed on a batch of %d (%s): CPU path for these", len(batch), err)
                    images = [None] * len(batch)
                for o in batch:
                    o.data = None  # the bytes are done with (the CPU path reads a refused file again)
                decoded = self._event()
                self._took("decoder (GPU)", t)
                with prep:
                    resized.append(self._prep(batch, images, decoded))
        if hasattr(self._decoder, "release"):  # its decoder, warm, for the next stage's thread
            self._decoder.release()
        self._put(self._in, None)  # the end, for the other decode threads
        with self._seconds_lock:
            self._decoding -= 1
            last = self._decoding == 0
        if last:
            self._ended()

    def _ended(self) -> None:
        """No more batches: the towers (and the JPEG thread) end once they have done theirs."""
        self._put(self._mid, None)
        if self._jpeg_thread:
            self._put(self._jpg, None)

    def _jpeg_loop(self) -> None:
        """The thumbnails' JPEGs of each batch, while the decode thread goes on."""
        with self._stream(priority=-1):
            while (job := self._get(self._jpg)) is not None:
                self._encode(job)

    def _prep(self, batch: list[Outcome], images: list[Any], decoded: Any) -> Any:
        """A decoded batch's model inputs to the towers, its thumbnails to the JPEG encoder; the event after which
        the resizes are done on the GPU (None off CUDA)."""
        t = time.perf_counter()
        try:
            if decoded is not None:  # this stream waits on the GPU for the decode, this thread does not
                import torch

                torch.cuda.current_stream().wait_event(decoded)
            done, refused, inputs, small, made = self._prepare(batch, images)
        except Exception as err:  # noqa: BLE001 - e.g. GPU memory: the batch goes through the CPU path
            log.warning("GPU resizing failed on a batch of %d (%s): CPU path for these", len(batch), err)
            done, refused, inputs, small, made = [], batch, {}, [], None
        del images
        self._took("resizes (GPU)", t)
        cpu = [self._pool.submit(self._cpu, o) for o in refused]
        # to the towers before the thumbnails are encoded (content 389 against 343 img/s, BENCHMARKS.md): their
        # writes come with a future
        thumbs: Future = Future()
        self._put(self._mid, (done, inputs, made, thumbs, cpu))
        if self._jpeg_thread:
            self._put(self._jpg, (done, small, made, thumbs))
        else:
            self._encode((done, small, made, thumbs), wait=False)
        # (where the resizes failed half-way, an event after whatever of them was queued: the decoder must not
        # write into pictures a kernel may still read)
        return made if made is not None else self._event()

    def _encode(self, job: tuple[list[Outcome], list[Any], Any, Future], wait: bool = True) -> None:
        """A batch's thumbnails as JPEGs by the GPU's encoder (`wait`: once `made`, the event after which they are
        whole, is passed on this thread's stream), or as they are for the CPU threads' encoder; written by the
        CPU threads, the writes handed to the towers by the future."""
        done, small, made, thumbs = job
        t = time.perf_counter()
        try:
            if made is not None and wait and small:
                import torch

                torch.cuda.current_stream().wait_event(made)
            small = self._jpegs(small)
            k = max(1, -(-len(done) // self._writers))  # a share of the batch a thread: one wait, one task each
            writes = [
                self._pool.submit(self._write, done[i : i + k], small[i : i + k], made) for i in range(0, len(done), k)
            ]
        except BaseException as err:  # the tower thread waits on this future: it must not wait forever
            thumbs.set_exception(err)
            raise
        thumbs.set_result(writes)
        self._took("thumbnail JPEGs (GPU)", t)

    def _prepare(
        self, batch: list[Outcome], images: list[Any]
    ) -> tuple[list[Outcome], list[Outcome], dict[str, Any], list[Any], Any]:
        """(decoded, refused, each space's inputs of the decoded, their thumbnails (GPU tensors for the GPU's
        encoder, else host uint8 tensors), the CUDA event after which both are whole, or None off CUDA). Nothing
        here waits for the GPU: the towers' stream and the thumbnail threads wait on the event."""
        done = [o for o, im in zip(batch, images, strict=True) if im is not None]
        refused = [o for o, im in zip(batch, images, strict=True) if im is None]
        if not done:
            return [], refused, {}, [], None
        spaces = sorted({s for o in done for s in o.job.spaces})
        wanted = {s: (self._encoders[s].input_size, *self._encoders[s].input_norm()) for s in spaces}
        decoded = [im for im in images if im is not None]
        inputs, small = prepare_batch(decoded, wanted, self._thumb_side, host_thumbs=not self._gpu_jpeg)
        return done, refused, inputs, small, self._event() if decoded[0].is_cuda else None

    def _tower_loop(self) -> None:
        with self._stream():
            t = time.perf_counter()
            for e in self._encoders.values() if self._graphs_later else ():
                self._capture(e)
            self._took("waiting for the towers' graphs", t)
            while (item := self._get(self._mid)) is not None:
                done, inputs, made, thumbs, cpu = item
                t = time.perf_counter()
                vectors = self._embed(done, inputs, made)
                del inputs
                self._took("towers (GPU)", t)
                t = time.perf_counter()
                writes = thumbs.result()
                results = [f.result() for f in [*writes, *cpu]]
                self._took("tower thread waiting for thumbnails / CPU path", t)
                out = results[len(writes) :]
                for i, o in enumerate(done):
                    kind = "fill" if o.job.fill_id is not None else "ready"
                    vecs = {s: v[rows.index(i)] for s, (rows, v) in vectors.items() if i in rows}
                    out.append(Outcome(o.job, kind, hash=o.hash, vectors=vecs, row=o.row if kind == "ready" else {}))
                self._out.put(out)

    def _embed(self, done: list[Outcome], inputs: dict[str, Any], made: Any) -> dict[str, tuple[list[int], np.ndarray]]:
        """Each space's (rows of `done`, embeddings) from the inputs made for them, once `made` (the event after
        which they are whole; None off CUDA) is passed on this thread's stream. (The towers in the decode thread
        instead, after each batch on its stream: slower, 246-280 against 275-304 img/s; BENCHMARKS.md.)"""
        if made is not None:  # this stream waits on the GPU for the inputs, this thread does not
            import torch

            torch.cuda.current_stream().wait_event(made)
        vectors: dict[str, tuple[list[int], np.ndarray]] = {}
        for s, x in inputs.items():
            rows = [i for i, o in enumerate(done) if s in o.job.spaces]
            vectors[s] = (rows, self._encoders[s].encode_batch(x if len(rows) == len(done) else x[rows]))
        return vectors

    def _jpegs(self, small: list[Any]) -> list[Any]:
        """The thumbnails as JPEG bytes by the GPU's encoder (it waits for this stream's work), where it runs;
        else the small pictures as they are, for the CPU threads."""
        if not self._gpu_jpeg or not small:
            return small
        try:
            return self._decoder.encode_jpeg(small)
        except Exception as err:  # noqa: BLE001 - the thumbnails are then the CPU threads'
            log.warning("the GPU's JPEG encoder failed (%s): thumbnails encoded on the CPU", err)
            self._gpu_jpeg = False
            return [t.cpu() for t in small]

    def _write(self, done: list[Outcome], small: list[Any], made: Any) -> None:
        """Write thumbnails: the GPU encoder's JPEGs, or JPEGs of the pictures the GPU resized once their copy to
        the host is done (`made`). None: the encoder refused this one; the first request draws it from the
        file, as for a lost one."""
        from indexing.imageio import jpeg_bytes

        t = time.perf_counter()
        if made is not None and not all(isinstance(x, bytes | None) for x in small):
            made.synchronize()
        for o, x in zip(done, small, strict=True):
            if x is not None and (o.job.redo or not self._thumbs.read(o.hash)):
                self._thumbs.write(o.hash, x if isinstance(x, bytes) else jpeg_bytes(x.numpy(), quality=85))
        self._took("thumbnails written (CPU threads)", t)
