from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexing.imageio import decode
from search.engine import QueryError
from services import StyleSeek
from tests.imagegen import make_collection, pattern, save_jpeg


@pytest.fixture
def indexed(tmp_path: Path, svc: StyleSeek) -> StyleSeek:
    make_collection(tmp_path / "lib", 16)
    svc.index_folders([tmp_path / "lib"])
    return svc


def test_text_search_ranks_by_cosine_of_text_and_image_vectors(indexed: StyleSeek) -> None:
    hits = indexed.search("a dog on a beach", k=10)
    assert len(hits) == 10
    q = indexed.encoder.encode_text(["a dog on a beach"])[0]
    # recompute every score from the stored vectors, independently of FAISS
    ids, vecs = indexed.catalog.load_vectors("content", None, indexed.encoder.dim)
    expected = sorted(zip((vecs @ q).tolist(), ids.tolist(), strict=True), key=lambda p: (-p[0], p[1]))[:10]
    assert [h.image.id for h in hits] == [i for _, i in expected]
    np.testing.assert_allclose([h.score for h in hits], [s for s, _ in expected], atol=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_is_deterministic(indexed: StyleSeek) -> None:
    a = [(h.image.id, h.score) for h in indexed.search("red corner", k=16)]
    b = [(h.image.id, h.score) for h in indexed.search("red corner", k=16)]
    assert a == b


def test_similar_finds_itself_first_when_asked_by_vector_and_excludes_itself_by_id(
    indexed: StyleSeek, tmp_path: Path
) -> None:
    some = indexed.catalog.get_by_path(str(tmp_path / "lib" / "img001.jpg"))
    by_id = indexed.similar(some.id, k=5)
    assert some.id not in [h.image.id for h in by_id] and len(by_id) == 5
    by_file = indexed.similar_to_file(tmp_path / "lib" / "img001.jpg", k=5)
    assert [h.image.id for h in by_file] == [h.image.id for h in by_id]  # an indexed file resolves to its id
    # an outside copy of the same picture is embedded on the fly and finds the original first
    outside = tmp_path / "outside.png"
    Image.open(tmp_path / "lib" / "img001.jpg").save(outside)
    assert indexed.similar_to_file(outside, k=1)[0].image.id == some.id


def test_orientation_is_applied_before_embedding(tmp_path: Path, svc: StyleSeek) -> None:
    upright = pattern(64, 48, 11)
    a = save_jpeg(tmp_path / "lib" / "upright.jpg", upright)
    b = save_jpeg(tmp_path / "lib" / "rotated.jpg", upright.rotate(90, expand=True), orientation=6)
    svc.index_folders([tmp_path / "lib"])
    va = svc.vector(svc.catalog.get_by_path(str(a)).id)
    vb = svc.vector(svc.catalog.get_by_path(str(b)).id)
    assert float(va @ vb) > 0.99
    # and the rotated one really differs when orientation is ignored
    raw = svc.encoder.encode_images([Image.open(b).convert("RGB")])[0]
    assert float(va @ raw) < float(va @ vb)
    assert decode(b.read_bytes(), min_side=8, max_pixels=10**8).width == 64


def test_bad_queries_are_refused_with_a_message(indexed: StyleSeek) -> None:
    with pytest.raises(QueryError, match="empty"):
        indexed.search("   ")
    with pytest.raises(QueryError, match="k must be"):
        indexed.search("x", k=0)
    with pytest.raises(LookupError):
        indexed.similar(987654)


def test_empty_library_returns_no_results(svc: StyleSeek) -> None:
    assert svc.search("anything") == []
