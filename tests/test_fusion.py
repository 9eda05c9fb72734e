"""Fusion on small hand-built indices with known vectors: order, exclusions, normalisation, thresholds, ties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.catalog import Catalog, as_stored
from indexing.schema import UNDATED
from indexing.vectors import VectorIndex
from search.engine import Searcher
from search.query import QueryError, Term, format_query, parse_query, parse_term_option


class Table:
    """A text 'encoder' for these tests: looks vectors up in a table, so every expected score is exact."""

    def __init__(self, dim: int, table: dict[str, list[float]]) -> None:
        self.dim = dim
        self.table = {k: np.asarray(v, np.float32) / np.linalg.norm(v) for k, v in table.items()}

    def encode_text(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])


def unit(*v: float) -> np.ndarray:
    a = np.asarray(v, np.float32)
    return a / np.linalg.norm(a)


@pytest.fixture
def world(tmp_path: Path) -> Searcher:
    """Five images in a 3-d content space and a 2-d style space; image 5 has no style vector."""
    cat = Catalog(tmp_path / "db.sqlite3")
    content = {1: unit(1, 0, 0), 2: unit(0.8, 0.6, 0), 3: unit(0, 1, 0), 4: unit(0, 0, 1), 5: unit(0.8, 0.6, 0)}
    style = {1: unit(0, 1), 2: unit(1, 0), 3: unit(1, 1), 4: unit(1, 0)}
    dates = {1: "2020-01-01T00:00:00", 2: "2023-05-01T00:00:00", 3: None, 4: "2021-01-01T00:00:00", 5: None}
    with cat.transaction() as t:
        t.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/x', 0)")
        for i in content:
            t.execute(
                "INSERT INTO images(id, folder_id, path, size, mtime, status, taken_at, taken_sort, indexed_at) "
                "VALUES (?, 1, ?, 0, 0, 'indexed', ?, COALESCE(CAST(strftime('%s', ?) AS REAL), ?), 0)",
                (i, f"/x/{i}.jpg", dates[i], dates[i], UNDATED),
            )
    indices = {
        "content": VectorIndex(tmp_path / "c.faiss", "content", 3),
        "style": VectorIndex(tmp_path / "s.faiss", "style", 2),
    }
    indices["content"].add(np.array(list(content)), np.stack(list(content.values())))
    indices["style"].add(np.array(list(style)), np.stack(list(style.values())))
    encoders = {
        "content": Table(3, {"x": [1, 0, 0], "y": [0, 1, 0], "z": [0, 0, 1]}),
        "style": Table(2, {"a": [1, 0], "b": [0, 1]}),
    }
    return Searcher(cat, indices.__getitem__, encoders)  # type: ignore[arg-type]


def ids(hits) -> list[int]:  # noqa: ANN001
    return [h.image.id for h in hits]


def test_single_term_is_plain_cosine(world: Searcher) -> None:
    hits = world.search([Term("x")], k=5)
    assert ids(hits) == [1, 2, 5, 3, 4]  # 2 and 5 tie at 0.8: the lower id first
    # (the vectors as stored, at float16: 0.8 is 0.7999)
    assert [round(h.score, 3) for h in hits] == [1.0, 0.8, 0.8, 0.0, 0.0]


def test_weighted_sum_normalised_by_positive_weight(world: Searcher) -> None:
    hits = world.search([Term("x", "content", 0.5), Term("a", "style", 1.0)], k=5)
    # score = (0.5*cos_content + 1.0*cos_style) / 1.5
    expect = {
        1: (0.5 * 1 + 0) / 1.5,
        2: (0.5 * 0.8 + 1) / 1.5,
        3: (0 + 1 * 0.7071) / 1.5,
        4: (0 + 1) / 1.5,
        5: (0.5 * 0.8 + 0) / 1.5,
    }
    assert ids(hits) == sorted(expect, key=lambda i: (-round(expect[i], 4), i))
    for h in hits:
        assert h.score == pytest.approx(expect[h.image.id], abs=1e-4)
        assert sum(c for *_, c in h.parts) == pytest.approx(h.score, abs=1e-6)
        assert set(h.by_model) == {"content", "style"}
    five = next(h for h in hits if h.image.id == 5)
    assert five.parts[1][3] is None  # no style vector: similarity unknown, contributes 0


def test_negative_term_pushes_down_without_counting_in_the_normaliser(world: Searcher) -> None:
    plain = world.search([Term("x")], k=5)
    excl = world.search([Term("x"), Term("y", "content", -0.5)], k=5)
    # 2 and 5 have y=0.6 so they lose 0.3; 3 loses 0.5; the divisor stays 1
    got = {h.image.id: h.score for h in excl}
    assert got[1] == pytest.approx(1.0) and got[3] == pytest.approx(-0.5)
    assert got[2] == pytest.approx(0.8 - 0.3, abs=5e-4)  # stored at float16
    assert ids(plain) == [1, 2, 5, 3, 4] and ids(excl) == [1, 2, 5, 4, 3]  # 3 now ranks below 4


def test_min_score_and_k(world: Searcher) -> None:
    assert ids(world.search([Term("x")], k=5, min_score=0.5)) == [1, 2, 5]
    assert ids(world.search([Term("x")], k=2)) == [1, 2]


def test_match_is_a_share_of_the_best_hit_and_min_match_filters_in_that_unit(world: Searcher) -> None:
    hits = world.search([Term("x"), Term("y", "content", -0.5)], k=5)
    assert [(h.image.id, round(h.match, 3)) for h in hits] == [(1, 1.0), (2, 0.5), (5, 0.5), (4, 0.0), (3, 0.0)]
    assert ids(world.search([Term("x")], k=5, min_match=79.9)) == [1, 2, 5]  # 0.8 at float16: 79.99%
    assert ids(world.search([Term("x")], k=5, min_match=80.1)) == [1]
    # the best is the best of what the filters keep: only the dated ones, 2 is now the best
    from search.options import Filters

    dated = world.search([Term("x")], k=5, min_match=100, filters=Filters(taken_from="2021"))
    assert ids(dated) == [2] and dated[0].match == 1.0
    with pytest.raises(QueryError, match="min_match must be between 0 and 100"):
        world.search([Term("x")], min_match=120)


def test_pictures_are_terms_fused_by_the_same_formula(world: Searcher) -> None:
    content = {1: unit(1, 0, 0), 2: unit(0.8, 0.6, 0), 3: unit(0, 1, 0), 4: unit(0, 0, 1), 5: unit(0.8, 0.6, 0)}
    style = {1: unit(0, 1), 2: unit(1, 0), 3: unit(1, 1), 4: unit(1, 0)}
    # like #2 (half content, half style) and unlike #4 at 0.5: the pictures named are not results themselves
    hits = world.search(parse_query("like: #2, unlike: 0.5 #4"), k=5)
    assert 2 not in ids(hits) and 4 not in ids(hits)

    def expect(i: int) -> float:
        c = 0.5 * float(content[i] @ content[2]) - 0.25 * float(content[i] @ content[4])
        s = 0.5 * float(style[i] @ style[2]) - 0.25 * float(style[i] @ style[4]) if i in style else 0.0
        return c + s  # the divisor: the positive weights, 1

    for h in hits:
        assert h.score == pytest.approx(expect(h.image.id), abs=5e-4)  # the vectors as stored, at float16
    assert [p[0] for p in hits[0].parts] == ["like #2", "like #2", "unlike #4", "unlike #4"]
    assert [p[1] for p in hits[0].parts] == ["content", "style", "content", "style"]
    # with a text term: the same sum over every part, normalised by the positive weights (1 + 1)
    mixed = {h.image.id: h.score for h in world.search(parse_query("x, like: #2"), k=5)}
    assert mixed[1] == pytest.approx((1.0 + 0.5 * float(content[1] @ content[2]) + 0.5 * 0.0) / 2, abs=5e-4)
    with pytest.raises(QueryError, match="not indexed"):
        world.search(parse_query("like: #99"))
    with pytest.raises(QueryError, match="drop it again"):
        world.search(parse_query("like: @0123456789abcdef"))


def test_the_balance_shares_a_picture_term_between_content_and_style(world: Searcher) -> None:
    """The search form's slider: 0 searches a picture by its content alone, 1 by its style alone, 0.5 (the
    default) half each; the term keeps its weight either way, and the viewer's breakdown says the same."""
    content = {1: unit(1, 0, 0), 2: unit(0.8, 0.6, 0), 3: unit(0, 1, 0), 4: unit(0, 0, 1), 5: unit(0.8, 0.6, 0)}
    style = {1: unit(0, 1), 2: unit(1, 0), 3: unit(1, 1), 4: unit(1, 0)}
    like = parse_query("like: #2")
    by_content = world.search(like, k=5, picture_balance=0.0)
    assert {p[1] for h in by_content for p in h.parts} == {"content"}
    for h in by_content:
        assert h.score == pytest.approx(float(content[h.image.id] @ content[2]), abs=5e-4)
    by_style = world.search(like, k=5, picture_balance=1.0)
    assert {p[1] for h in by_style for p in h.parts} == {"style"}
    assert ids(by_style)[:2] == [4, 3]  # 4 has 2's style exactly, 3 half of it; 5 (no style vector) scores 0
    half = {h.image.id: h.score for h in world.search(like, k=5)}
    assert half[4] == pytest.approx(0.5 * float(content[4] @ content[2]) + 0.5 * float(style[4] @ style[2]), abs=5e-4)
    explained = world.explain(like, 4, picture_balance=1.0)
    assert [p[1] for p in explained.parts] == ["style"] and explained.score == pytest.approx(1.0, abs=5e-4)


def test_sort_by_date_keeps_the_same_hits(world: Searcher) -> None:
    by_score = world.search([Term("x")], k=5)
    by_date = world.search([Term("x")], k=5, sort="date")
    assert set(ids(by_date)) == set(ids(by_score))
    assert ids(by_date) == [2, 4, 1, 5, 3]  # newest first, undated last in score order


def test_same_query_same_order(world: Searcher) -> None:
    q = [Term("x", "content", 0.7), Term("b", "style", 0.4), Term("z", "content", -0.2)]
    assert [(h.image.id, h.score) for h in world.search(q)] == [(h.image.id, h.score) for h in world.search(q)]


def test_coherence_boost_lifts_the_dominant_style(world: Searcher) -> None:
    base = world.search([Term("x")], k=5)
    boosted = world.search([Term("x")], k=5, coherence=1.0)
    assert all(h.boost == 0 for h in base)
    assert any(h.boost != 0 for h in boosted)
    assert ids(boosted) != ids(base)


def test_similar_with_balance(world: Searcher) -> None:
    content = world.similar(2, k=4, balance=0.0)
    assert ids(content)[0] == 5 and 2 not in ids(content)  # identical content vector
    style = world.similar(2, k=4, balance=1.0)
    assert ids(style)[0] == 4  # identical style vector
    assert set(style[0].by_model) == {"style"}
    with pytest.raises(QueryError):
        world.similar(2, balance=1.5)


def test_unavailable_style_is_a_clear_error(world: Searcher) -> None:
    world.encoders.pop("style")
    with pytest.raises(QueryError, match="style search is unavailable"):
        world.search([Term("a", "style")])
    with pytest.raises(QueryError, match="style search is unavailable"):
        world.similar(2, balance=0.5)


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("sunset over mountains", [Term("sunset over mountains")]),
        (
            "sunset over mountains, style: van gogh:0.9, -people",
            [Term("sunset over mountains"), Term("van gogh", "style", 0.9), Term("people", "content", -1.0)],
        ),
        (
            "  dog ,, -cat:0.3 , STYLE:  watercolour  ",
            [Term("dog"), Term("cat", "content", -0.3), Term("watercolour", "style")],
        ),
        ("content: red car:0.5", [Term("red car", "content", 0.5)]),
        ("like: #12, unlike: 0.5 #3", [Term("#12", "image"), Term("#3", "image", -0.5)]),
        ("dog, like: 0.3 #7, -like: #8", [Term("dog"), Term("#7", "image", 0.3), Term("#8", "image", -1.0)]),
        # a place prefix after other words starts a location term: the forgotten comma
        ("sunset in: France", [Term("sunset"), Term("in France", "location")]),
        (
            "beach only near: Zurich 20km:0.5",
            [Term("beach", "content", 0.5), Term("only near Zurich 20km", "location", 0.5)],
        ),
    ],
)
def test_query_syntax(query: str, terms: list[Term]) -> None:
    assert parse_query(query) == terms
    assert parse_query(format_query(terms)) == terms


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("-people", "positive weight"),
        ("dog:1.5", "between -1 and 1"),
        ("style: :0.5", "empty"),
        ("like: a cat", "like/unlike takes pictures"),
        ("unlike: #4", "positive weight"),
    ],
)
def test_bad_queries(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(query)


def test_term_option() -> None:
    assert parse_term_option("style:0.9:van gogh") == Term("van gogh", "style", 0.9)
    assert parse_term_option("content:-0.5:people, crowds") == Term("people, crowds", "content", -0.5)
    for bad in ("style:van gogh", "colour:0.5:red", "style:x:y"):
        with pytest.raises(QueryError):
            parse_term_option(bad)


def test_explain_matches_the_search_breakdown(world: Searcher) -> None:
    q = [Term("x", "content", 0.5), Term("a", "style", 1.0), Term("z", "content", -0.3)]
    for hit in world.search(q, k=5):
        e = world.explain(q, hit.image.id)
        assert e.score == pytest.approx(hit.score, abs=1e-6) and e.parts == hit.parts


def collection(tmp_path: Path, spaces: dict[str, np.ndarray], table: dict[str, list[float]]) -> Searcher:
    """Images 1..n with the given vectors per space; every text term of `table` in every space."""
    cat = Catalog(tmp_path / "db.sqlite3")
    n = len(next(iter(spaces.values())))
    with cat.transaction() as t:
        t.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/x', 0)")
        t.executemany(
            "INSERT INTO images(id, folder_id, path, size, mtime, status, taken_sort, indexed_at) "
            "VALUES (?, 1, ?, 0, 0, 'indexed', ?, 0)",
            [(i, f"/x/{i}.jpg", UNDATED) for i in range(1, n + 1)],
        )
    indices = {}
    for space, vecs in spaces.items():
        indices[space] = VectorIndex(tmp_path / f"{space}.faiss", space, vecs.shape[1])
        indices[space].add(np.arange(1, n + 1), vecs.astype(np.float32))
    encoders = {space: Table(vecs.shape[1], table) for space, vecs in spaces.items()}
    return Searcher(cat, indices.__getitem__, encoders)  # type: ignore[arg-type]


def on_circle(angles: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def test_an_image_between_two_terms_is_found_though_neither_term_lists_it(tmp_path: Path) -> None:
    """150 images near each of two axes fill both terms' candidate lists (depth 100); the one image on the
    diagonal scores 0.707 fused, above all of them (at most 0.695), and only the space's Σ w·q search finds it."""
    rng = np.random.default_rng(0)
    angles = np.concatenate([rng.uniform(0, 0.6, 150), rng.uniform(np.pi / 2 - 0.6, np.pi / 2, 150), [np.pi / 4]])
    searcher = collection(tmp_path, {"content": on_circle(angles)}, {"x": [1, 0], "y": [0, 1]})
    hits = searcher.search([Term("x"), Term("y")], k=10)
    assert hits[0].image.id == len(angles)
    assert hits[0].score == pytest.approx(np.sqrt(0.5), abs=1e-5)
    assert all(h.score < hits[0].score - 0.01 for h in hits[1:])


def test_terms_in_two_spaces_get_the_exact_top_by_going_deeper(tmp_path: Path) -> None:
    """Content and style pull opposite ways: an image high in one space's list is low in the other's, and the
    exact top (both shares middling) lies ~1,500 deep in each list: the lists go deeper until no unseen image
    can beat the 10th best, and the top 10 is the brute-force one."""
    rng = np.random.default_rng(1)
    theta = rng.uniform(0, np.pi / 2, 3000)
    content, style = on_circle(theta), on_circle(np.pi / 2 - theta + rng.normal(0, 0.05, 3000))
    searcher = collection(tmp_path, {"content": content, "style": style}, {"x": [1, 0]})
    hits = searcher.search([Term("x", "content", 1.0), Term("x", "style", 0.8)], k=10)
    content, style = as_stored(content), as_stored(style)  # brute force over the vectors as stored
    exact = (content[:, 0] + 0.8 * style[:, 0]) / 1.8
    assert [h.image.id for h in hits] == [int(i) + 1 for i in np.argsort(-exact)[:10]]
    assert [h.score for h in hits] == pytest.approx(np.sort(exact)[::-1][:10], abs=1e-5)
