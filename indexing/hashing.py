"""The content hash that tells a file's bytes apart (change detection, moved files, thumbnails' keys): xxh3-128
for new catalogs, BLAKE2b-128 for those made before it, each catalog keeping the one its rows were hashed with."""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Any

import xxhash


class HashKind(str, Enum):
    """A catalog's content hash, as its `facts` table names it. Hashing a 2.5 MB photo takes xxh3 0.03 ms of a
    core, BLAKE2b 2.6 ms on a laptop-class core (5.8 on the GPU machine's; BENCHMARKS.md): at the GPU path's
    600+ files a second, BLAKE2b alone kept 3-4 cores busy. Neither need resist an attacker: a collision would
    only make two pictures share a thumbnail."""

    XXH3 = "xxh3-128"
    BLAKE2B = "blake2b-128"


NEW_CATALOGS = HashKind.XXH3  # (benches switch it, to measure the other on a fresh catalog)


def hasher(kind: HashKind) -> Any:
    """A fresh hash object of `kind`: update(bytes), hexdigest() of 32 hex digits."""
    if kind is HashKind.XXH3:
        return xxhash.xxh3_128()
    return hashlib.blake2b(digest_size=16)


def hash_bytes(data: bytes, kind: HashKind) -> str:
    h = hasher(kind)
    h.update(data)
    return h.hexdigest()
