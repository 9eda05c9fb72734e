"""GPU decoding for indexing (issue 13): which JPEGs the GPU's decoder may take, read from their header bytes
alone; and nvImageCodec's batched decode (the model inputs and thumbnails made of a decoded batch: gpu_resize).
Nothing here loads CUDA or nvImageCodec at import: the CPU path stays the default, and nvImageCodec is imported
only where a GPU is used.

What goes to the CPU path instead, and why (the CPU path is what the GPU path must match):
- not a JPEG (PNG, HEIC, RAW, ...): the GPU decoder here is for JPEG;
- an embedded ICC profile: the CPU path converts it to sRGB (phones' Display P3), which the GPU path does not
  do yet; likewise 4-component (CMYK/YCCK) JPEGs, which need Adobe's inversion and a profile;
- 12-bit or arithmetic-coded JPEGs, which the hardware decoder does not take;
- more than `max_pixels`: a 100-MP scan is decoded on the CPU with draft/reduce, so GPU memory stays bounded;
- no end marker (a file cut short): the hardware decoder fills the rest with grey, the CPU path reports it.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

GPU_MAX_PIXELS = 100_000_000


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JpegHeader:
    width: int
    height: int
    components: int
    precision: int
    progressive: bool
    arithmetic: bool
    icc: bool  # an APP2 ICC_PROFILE segment before the frame


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(marker, offset, length) of a JPEG's segments, walked from its start up to and including the first scan's
    header; stops where the bytes are not a marker or are cut short."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        yield marker, i, length
        if marker == 0xDA:
            return
        i += 2 + length


def jpeg_header(data: bytes) -> JpegHeader | None:
    """The frame header of a JPEG, read by walking its markers up to the first SOFn; None if it is no JPEG or
    its header is cut short."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    icc = False
    for marker, i, _ in _segments(data):
        if marker == 0xE2 and data[i + 4 : i + 16] == b"ICC_PROFILE\x00":
            icc = True
        if marker in _SOF:
            if i + 10 > len(data):
                return None
            precision, height, width, components = struct.unpack(">BHHB", data[i + 4 : i + 10])
            return JpegHeader(
                width, height, components, precision, marker in (0xC2, 0xC6, 0xCA, 0xCE), marker >= 0xC9, icc
            )
        if marker == 0xDA:  # scan data before any frame header: broken
            return None
    return None


def jpeg_head(data: bytes) -> bytes:
    """A JPEG's bytes up to its first scan's header (EXIF, XMP, ICC, the frame header: all a probe reads), closed
    by an end marker; the whole file where no scan is found. What goes to a probe process instead of 3 MB.
    The scan's header is kept: Pillow 10 refuses a JPEG whose end marker comes before it (Pillow 13 does not)."""
    for marker, i, length in _segments(data):
        if marker == 0xDA:
            return data[: i + 2 + length] + b"\xff\xd9"
    return data


GPU_BATCH_PIXELS = 800_000_000  # a decode call's pixels (2.4 GB decoded): 64 12-MP photos, 8 100-MP scans
GPU_MEMORY_SHARE = 0.2  # at most this share of the GPU's memory for the decoder's buffer sets: see batch_pixels


def gpu_memory(decoder: Any) -> int | None:
    """The memory of the GPU the decoder decodes on, in bytes; None off CUDA."""
    device = getattr(decoder, "device", None)
    if getattr(device, "type", None) != "cuda":
        return None
    import torch

    return int(torch.cuda.get_device_properties(device).total_memory)


def batch_pixels(memory: int | None, buffers: int) -> int:
    """A decode call's pixels at most: GPU_BATCH_PIXELS, fewer on a GPU with less memory, so that the decoded
    batches alive at once (`buffers` sets kept for reuse, 3 bytes a pixel) and the resizes' float16 part of
    one stay within about a third of it, the rest left to the towers: an 8 GB card decodes ~24 12-MP photos a
    call, one of 24 GB or more 64."""
    if not memory:
        return GPU_BATCH_PIXELS
    return max(1, min(GPU_BATCH_PIXELS, int(memory * GPU_MEMORY_SHARE / buffers / 3)))


def cpu_reason(data: bytes, max_pixels: int = GPU_MAX_PIXELS, progressive: bool = True) -> str | None:
    """Why this file goes through the CPU path (None: the GPU decoder may take it); `progressive`: whether the
    decoder takes progressive JPEGs (GpuDecoder.progressive)."""
    h = jpeg_header(data)
    if h is None:
        return "not a JPEG"
    if h.progressive and not progressive:
        return "progressive JPEG (the hardware JPEG engine refuses it)"
    if h.components not in (1, 3):
        return f"{h.components}-component JPEG (CMYK/YCCK)"
    if h.precision != 8:
        return f"{h.precision}-bit JPEG"
    if h.arithmetic:
        return "arithmetic-coded JPEG"
    if h.icc:
        return "ICC profile (converted to sRGB on the CPU)"
    if h.width * h.height > max_pixels:
        return f"{h.width * h.height / 1e6:.0f} MP: decoded reduced on the CPU"
    # A file cut short: the hardware decoder returns it whole, its missing part grey, where the CPU path reports
    # it broken (seen on the H100: tests/test_gpu_real.py). No FF D9 can stand inside the entropy-coded data, so
    # the end marker's absence after the scan's start says so (a motion photo's video after it is no matter).
    sos = next((i for m, i, _ in _segments(data) if m == 0xDA), None)
    if sos is None or data.rfind(b"\xff\xd9", sos) < 0:
        return "no end marker: cut short (the CPU path reports it)"
    return None


def gpu_decoder(settings: Any, device: str) -> GpuDecoder | None:
    """The GPU decoder when indexing runs on CUDA, nvImageCodec is installed and STYLESEEK_GPU_DECODE is not
    off; None otherwise (the CPU path)."""
    if device != "cuda" or getattr(settings, "gpu_decode", "auto") == "off":
        return None
    try:
        return GpuDecoder(device)
    except ImportError:
        return None
    except Exception as err:  # noqa: BLE001 - nvImageCodec installed but unable to decode here: the CPU path
        log.warning("nvImageCodec cannot decode on this GPU (%s): JPEGs are decoded on the CPU", err)
        return None


class GpuDecoder:
    """nvImageCodec's batched decoder (the hardware JPEG engine where the GPU has one, its CUDA decoder
    otherwise), EXIF orientation applied as the CPU path applies it to JPEGs. decode() gives, per file, an
    upright RGB uint8 tensor (H, W, 3) on the GPU, or None where the decoder refused the file (it then goes
    through the CPU path)."""

    CPU_THREADS = 4  # nvImageCodec's own host threads (0: one a core), which share the cores with the probes
    # The backends tried in turn, the first that can be made and decodes the warm-up JPEG kept: the hardware
    # JPEG engine alone (nvImageCodec's default adds its CPU backends, whose host threads spun 17 s of CPU in a
    # 3.7 s run and slowed each batch by a third; BENCHMARKS.md), then CUDA's decoder, then nvImageCodec's
    # default (()). A GPU without the engine (consumer cards) refuses the first: on the H100, nvImageCodec 0.9
    # also refuses the second alone ("Could not create decoder", arch mismatch), so such a GPU may end at ().
    CHOICES: tuple[tuple[str, ...], ...] = (("HW_GPU_ONLY",), ("GPU_ONLY",), ())
    OPTIONS = ""  # nvImageCodec's options string for its decoders, in place of plan()'s (the bench's A/Bs)
    # The picture the hardware engine's memory pool is sized for (plan): a 12.6-MP 4:3 photo (phones' 4032x3024)
    POOL_PICTURE = (4096, 3072)
    PLAN = True  # plan() sizes that pool (off: the bench's A/B)
    PREWARM = True  # prewarm() makes a decoder ahead (off: the bench's A/B)
    _spare: Future | None = None  # a decoder made for the next decode thread (prewarm, release)
    _spare_lock = threading.Lock()

    def __init__(self, device: str = "cuda") -> None:
        import torch
        from nvidia import nvimgcodec

        self.torch = torch
        self.device = torch.device(device)
        self._nv = nvimgcodec
        self._options: dict[str, Any] = {"max_num_cpu_threads": self.CPU_THREADS}
        self._params = nvimgcodec.DecodeParams(apply_exif_orientation=True)
        self._own = threading.local()  # a decoder per calling thread: decode threads may run at once
        self._hints = ""  # plan()'s options for the decoders made from then on
        self._choice = 0
        self._first_decoder()  # fails here, at the start of a run, if nvImageCodec cannot run

    def plan(self, batch: int, pixels: int) -> None:
        """The calls to come: at most `batch` pictures, `pixels` in all. The decoders made from then on (one a
        decode thread) size the hardware engine's memory pool for them up front. Left to itself the pool starts
        empty and grows with each larger batch: a fresh decoder's first call of 64 12-MP photos took 274 ms,
        the next 40 57-135 ms, against 137 ms and then 59-60 ms with the pool made first; the Indexer's
        content-only rate rose 5-7% over 4,096 photos (BENCHMARKS.md). Larger pictures grow it as before."""
        w, h = self.POOL_PICTURE
        n = max(1, min(batch, -(-pixels // (w * h))))
        hint = "nvjpeg_hw_decoder:preallocate_"
        self._hints = f"{hint}batch_size={n} {hint}width_hint={w} {hint}height_hint={h}" if self.PLAN else ""

    @property
    def progressive(self) -> bool:
        """Whether progressive JPEGs are worth sending: the hardware engine refuses them (tests/test_gpu_real.py,
        on the H100), and a refused file costs its batch the reuse of its buffers, so they go to the CPU path
        up front."""
        return self.backends != ("HW_GPU_ONLY",)

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends in use (() for nvImageCodec's default)."""
        return self.CHOICES[self._choice]

    def _first_decoder(self) -> Any:
        """This thread's decoder of the first choice from the current one on that nvImageCodec can make."""
        while True:
            try:
                return self._decoder()
            except Exception as err:
                if self._choice + 1 >= len(self.CHOICES):
                    raise
                log.info("nvImageCodec cannot make a decoder with %s (%s): trying the next", self.backends, err)
                self._choice += 1

    def prewarm(self, batch: int, pixels: int) -> None:
        """plan(batch, pixels), and a decoder made and warmed now in a thread of its own for the next decode thread
        to take (unless one waits already), so that its making (0.1 s on the H100) overlaps the folders' scan, not
        the first batch."""
        self.plan(batch, pixels)
        if self._spare is not None or not self.PREWARM:
            return
        spare: Future = Future()

        def make() -> None:
            self._own.making = True  # this thread makes the spare: it does not wait for it
            try:
                self.warm()
                spare.set_result(self._own.decoder)
            except BaseException as err:  # noqa: BLE001 - the decode thread then makes its own, and says why
                spare.set_exception(err)

        with self._spare_lock:
            self._spare = spare
        threading.Thread(target=make, name="gpu-prewarm", daemon=True).start()

    def release(self) -> None:
        """The calling thread is done decoding: its decoder, warm and its memory pool grown, goes to the next
        decode thread (a run's next folder), which would otherwise make a fresh one."""
        if (decoder := getattr(self._own, "decoder", None)) is not None:
            done: Future = Future()
            done.set_result(decoder)
            with self._spare_lock:
                self._spare, self._own.decoder = done, None

    def _decoder(self) -> Any:
        if getattr(self._own, "decoder", None) is None and not getattr(self._own, "making", False):
            with self._spare_lock:
                spare, self._spare = self._spare, None
            if spare is not None:
                with contextlib.suppress(Exception):  # a prewarm that failed: a decoder made here instead
                    self._own.decoder = spare.result()
        if getattr(self._own, "decoder", None) is None:
            options = dict(self._options)
            if self.backends:
                options["backends"] = [self._nv.Backend(getattr(self._nv.BackendKind, b)) for b in self.backends]
            if self.OPTIONS or self._hints:
                options["options"] = self.OPTIONS or self._hints
            self._own.decoder = self._nv.Decoder(**options)
        return self._own.decoder

    def warm(self, jpeg: bool = False) -> None:
        """This thread's decoder made and run once on a small JPEG, so that its start (handles, buffers, the first
        kernels) is not the first batch's: the decode thread does it while the probe processes read; `jpeg`: the JPEG
        encoder too."""
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (640, 480), (120, 90, 60)).save(buf, "JPEG", quality=90)
        self._first_decoder()
        images = self.decode([buf.getvalue()] * 2)
        while images[0] is None and self._choice + 1 < len(self.CHOICES):  # e.g. no hardware engine here
            log.info("nvImageCodec's %s refused a plain JPEG: trying the next backends", self.backends)
            self._choice, self._own.decoder = self._choice + 1, None
            self._first_decoder()
            images = self.decode([buf.getvalue()] * 2)
        if jpeg:
            with contextlib.suppress(Exception):  # an encoder that fails is the stage's to report, on its first batch
                self.encode_jpeg([im for im in images if im is not None])

    def code_stream(self, data: bytes | str) -> Any:
        """A file's bytes (no copy: it keeps a reference to them) or path (it maps the file) as the nvImageCodec
        CodeStream decode() takes as it takes them, made outside the decode thread (gpu_stage.CODE_STREAMS)."""
        return self._nv.CodeStream(data)

    def decode(self, blobs: Sequence[Any], reuse: int = 0) -> list[Any]:
        """blobs: the files' bytes, paths or CodeStreams (code_stream). reuse=k: decode into the buffers of the
        pictures this thread's k-th last reuse call gave (the caller is done with those). Allocating and freeing
        GPU memory every batch waits for whatever else runs on the GPU: beside the towers the decoder ran 510-600
        img/s, 830-890 with its buffers reused (BENCHMARKS.md)."""
        if not blobs:
            return []
        cuda = self.device.type == "cuda"
        stream = self.torch.cuda.current_stream(self.device).cuda_stream if cuda else 0  # the thread's: gpu_stage
        ring = self._own.__dict__.setdefault("ring", deque())
        last = ring.popleft() if reuse and len(ring) >= reuse else None
        kw = {"images": last} if last is not None and len(last) == len(blobs) else {}
        try:
            data = [self.code_stream(b) if isinstance(b, str) else b for b in blobs]  # a path: nvImageCodec reads it
            images = self._decoder().decode(data, params=self._params, cuda_stream=stream, **kw)
        except BaseException:
            if reuse:  # a place a call, so that the k-th last is the caller's k-th last batch
                ring.append(None)
            raise
        if reuse:  # kept only whole: a refused file leaves no buffer in its place
            ring.append(images if all(im is not None for im in images) else None)
        return [None if im is None else self.torch.as_tensor(im, device=self.device) for im in images]

    def encode_jpeg(self, images: Sequence[Any], quality: int = 85) -> list[bytes | None]:
        """JPEGs of (h, w, 3) uint8 GPU tensors, whole once the calling thread's stream is, by the GPU's encoder in
        one call: torchvision's nvJPEG encoder, which leaves the GIL to other threads and beside
        which the decoder keeps its rate (962 img/s against 971 alone), where nvImageCodec's encoder held the GIL
        half its call and cut the decoder to 220 img/s (BENCHMARKS.md)."""
        if not images:
            return []
        from torchvision.io import encode_jpeg

        chw = [t.permute(2, 0, 1).contiguous() for t in images]
        if self.device.type == "cuda":  # its encoder's stream does not wait for the caller's: pictures whole first
            self.torch.cuda.current_stream(self.device).synchronize()
        got = encode_jpeg(chw, quality=quality)
        flat = self.torch.cat(got).cpu().numpy()  # one copy to the host, not one a picture
        ends = np.cumsum([int(g.numel()) for g in got])
        return [flat[a:b].tobytes() for a, b in zip([0, *ends[:-1]], ends, strict=True)]
