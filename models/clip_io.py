"""CLIP's tokenizer and image preprocessing without torch: what a query or a decode worker needs, in
milliseconds of import time instead of the seconds that importing open_clip (torch, torchvision) costs.

The tokenizer is OpenAI's byte-level BPE as open_clip ships it (its vocabulary file is read from open_clip's
package folder, found without importing open_clip); the preprocessing is open_clip's "shortest side" resize
(PIL bicubic), centre crop and normalisation. tests/test_backends.py checks both against open_clip's own.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

CONTEXT_LENGTH = 77


def _vocab_file() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("open_clip is not installed: its BPE vocabulary is needed (pip install open-clip-torch)")
    return Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"


@lru_cache
def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


class ClipTokenizer:
    """open_clip's SimpleTokenizer with clean="lower": same ids, numpy out, trimmed after the longest text."""

    def __init__(self, context_length: int = CONTEXT_LENGTH) -> None:
        import regex

        merges = gzip.open(_vocab_file()).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
        pairs = [tuple(m.split()) for m in merges]
        vocab = list(_bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab] + ["".join(p) for p in pairs]
        vocab += ["<start_of_text>", "<end_of_text>"]
        self.encoder = {v: i for i, v in enumerate(vocab)}
        self.ranks = {p: i for i, p in enumerate(pairs)}
        self.sot, self.eot = self.encoder["<start_of_text>"], self.encoder["<end_of_text>"]
        self.context_length = context_length
        self._cache: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._pat = regex.compile(
            r"""<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE,
        )

    def _bpe(self, token: str) -> list[int]:
        with self._lock:
            if token in self._cache:
                return self._cache[token]
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            best = min(zip(word, word[1:], strict=False), key=lambda p: self.ranks.get(p, 1 << 30))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        ids = [self.encoder[w] for w in word]
        with self._lock:
            self._cache[token] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        import ftfy

        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        text = " ".join(text.split()).lower()
        b2u = _bytes_to_unicode()
        out: list[int] = []
        for token in self._pat.findall(text):
            out.extend(self._bpe("".join(b2u[b] for b in token.encode("utf-8"))))
        return out

    def __call__(self, texts: list[str]) -> np.ndarray:
        """(n, length) int64 token ids, padded with 0 only up to the longest text (at most 77)."""
        rows = []
        for t in texts:
            ids = [self.sot, *self.encode(t), self.eot]
            if len(ids) > self.context_length:
                ids = [*ids[: self.context_length - 1], self.eot]
            rows.append(ids)
        out = np.zeros((len(rows), max((len(r) for r in rows), default=2)), np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out


@lru_cache(maxsize=1)
def clip_tokenizer() -> ClipTokenizer:
    return ClipTokenizer()


def clip_preprocess(size: int, mean: tuple[float, ...], std: tuple[float, ...]):  # noqa: ANN201
    """open_clip's eval transform (resize the shortest side to `size` with PIL bicubic, centre crop, scale to
    [0, 1], normalise) as a function from an RGB PIL image to a float32 (3, size, size) array."""
    m = np.asarray(mean, np.float32).reshape(3, 1, 1)
    s = np.asarray(std, np.float32).reshape(3, 1, 1)

    def run(img: Image.Image) -> np.ndarray:
        img = img.convert("RGB")
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        if short != size:  # torchvision's rule for the long side: int(size * long / short)
            new_long = int(size * long / short)
            img = img.resize((size, new_long) if w <= h else (new_long, size), Image.Resampling.BICUBIC)
        w, h = img.size
        top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
        img = img.crop((left, top, left + size, top + size))
        a = np.asarray(img, np.float32).transpose(2, 0, 1) / 255.0
        return np.ascontiguousarray((a - m) / s, np.float32)

    return run
