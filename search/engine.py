"""Search over the vector spaces: weighted text terms and find-similar, fused with one formula.

For query parts p (weight w_p, space s_p, unit vector q_p) and a candidate image x:

    score(x) = Σ_p w_p · cos(q_p, x_{s_p}) / Σ_{p: w_p > 0} w_p

Candidates come from search/candidates.py (each space's whole share searched until no unseen image can enter the
top k); every candidate is scored exactly, from stored vectors; a missing space scores 0. Ties break by id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from geo.geocoder import GEOCODER, Area, UnknownPlace
from indexing.catalog import Catalog, ImageRow
from indexing.dropped import KEEP, DroppedPictures
from indexing.schema import UNDATED
from indexing.vectors import VectorIndex
from models.base import Encoder
from search.candidates import GROWTH, MAX_ROUNDS, Lists
from search.options import (  # noqa: F401 - MAX_K, SORTS and Filters are part of the engine's interface
    MAX_K,
    PICTURE_BALANCE,
    SORTS,
    Filters,
    check_balance,
    check_coherence,
    check_k,
    check_min_match,
    check_min_score,
    check_radius,
    check_sort,
)
from search.query import QueryError, Term, is_hard, validate
from search.ranking import coherence_boost, distance_to_first_point


@dataclass(frozen=True)
class Part:
    """One weighted query vector in one space: an encoded text term or an image's own vector."""

    label: str
    space: str
    weight: float
    vector: np.ndarray | None
    term: Term | None = None
    area: Area | None = None  # location parts: no vector, a place
    hard: bool = False  # "only in: France": images outside the area are dropped, not just ranked lower


@dataclass
class Hit:
    image: ImageRow
    score: float
    # per part: (label, space, weight, similarity or None when the image lacks the space, contribution)
    parts: list[tuple[str, str, float, float | None, float]] = field(default_factory=list)
    boost: float = 0.0
    match: float = 1.0  # the score as a share of the best hit's in this list (0 where it is not positive)

    @property
    def by_model(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for _label, space, _w, _sim, c in self.parts:
            out[space] = out.get(space, 0.0) + c
        return out

    def contributions(self) -> dict:
        return {
            "terms": [
                {
                    "text": label,
                    "target": space,
                    "weight": w,
                    "similarity": None if sim is None else round(sim, 6),
                    "contribution": round(c, 6),
                }
                for label, space, w, sim, c in self.parts
            ],
            "models": {k: round(v, 6) for k, v in self.by_model.items()},
            "coherence_boost": round(self.boost, 6),
        }


def unavailable(space: str) -> str:
    """Why a space cannot be searched: the one wording for a refused query and the page's notice."""
    what = "style search" if space in ("style", "texture") else f"the {space} space"
    return (
        f"{what} is unavailable: its model is not installed or is turned off "
        "(see `styleseek models status`, STYLESEEK_STYLE_SEARCH)"
    )


class Searcher:
    def __init__(
        self,
        catalog: Catalog,
        index_for: Callable[[str], VectorIndex],
        encoders: dict[str, Encoder],
        pictures: DroppedPictures | None = None,
    ) -> None:
        """`pictures`: the vectors of dropped pictures by their '@hash' reference."""
        self.catalog = catalog
        self.index_for = index_for
        self.encoders = encoders
        self.pictures = pictures

    @property
    def spaces(self) -> tuple[str, ...]:
        return tuple(self.encoders)

    def _require(self, space: str) -> None:
        if space in ("location", "image"):
            return  # the gazetteer ships with the app; a picture is searched in the spaces there are
        if space not in self.encoders:
            raise QueryError(unavailable(space))

    # text terms ---------------------------------------------------------------------------------------
    def encode_terms(self, terms: list[Term], picture_balance: float = PICTURE_BALANCE) -> list[Part]:
        """All terms of one model in one batch; a picture term split by picture_balance (see picture_parts)."""
        validate(terms)
        for t in terms:
            self._require(t.target)
        vecs: dict[int, np.ndarray] = {}
        areas: dict[int, Area] = {}
        for i, t in enumerate(terms):
            if t.target == "location":
                try:
                    areas[i] = GEOCODER.resolve_term(t.text)
                except UnknownPlace as e:
                    raise QueryError(str(e)) from None
        for space in {t.target for t in terms} - {"location", "image"}:
            idx = [i for i, t in enumerate(terms) if t.target == space]
            out = self.encoders[space].encode_text([terms[i].text for i in idx])
            vecs.update(zip(idx, out, strict=True))
        parts = []
        for i, t in enumerate(terms):
            if t.target == "image" and t.weight != 0:
                parts += self.picture_parts(t, picture_balance)
            elif t.weight != 0 or is_hard(t):
                parts.append(Part(t.text, t.target, t.weight, vecs.get(i), t, areas.get(i), hard=is_hard(t)))
        return parts

    # pictures as terms -----------------------------------------------------------------------------------
    def picture_vectors(self, ref: str) -> dict[str, np.ndarray]:
        """A picture's vectors per space: an indexed one's ('#12') from the indices, a dropped one's ('@…')
        from the dropped pictures kept."""
        if ref.startswith("@"):
            if self.pictures is None or (found := self.pictures.find(ref[1:])) is None:
                raise QueryError(
                    f"the dropped picture {ref} is not kept any more (one of the last {KEEP} dropped, made by the "
                    "models loaded now): drop it again"
                )
            return found
        image_id = int(ref[1:])
        out = {}
        for space in self.picture_split():
            vec = self.index_for(space).reconstruct(image_id)
            if vec is not None:
                out[space] = vec
        if "content" not in out:
            raise QueryError(f"picture {ref} is not indexed: pick one from the results (its id is on its card)")
        return out

    def picture_split(self, balance: float = PICTURE_BALANCE) -> dict[str, float]:
        """The spaces a picture term is searched in, and each one's share: by default half content, half the
        style side; balance 0 content alone, 1 the style side alone, as the search form's slider sets it
        (content alone where no style model is installed)."""
        has_style = any(s in self.encoders for s in ("style", "texture"))
        return self.balance_weights(balance if has_style else 0.0)

    def picture_parts(self, term: Term, balance: float = PICTURE_BALANCE) -> list[Part]:
        """A picture term in each space it has a vector in, shared by `balance` (0.5: content half, the style
        side the other half, as Find similar's balanced mode), the shares renormalised so that the term weighs
        what it says; a picture without the style side's vectors yet stands on its content."""
        vecs = self.picture_vectors(term.text)
        shares = {s: w for s, w in self.picture_split(balance).items() if s in vecs and w > 0}
        if not shares:
            shares = {"content": 1.0}
        total = sum(shares.values())
        verb = "unlike" if term.weight < 0 else "like"
        return [Part(f"{verb} {term.text}", s, term.weight * w / total, vecs[s], term) for s, w in shares.items()]

    def search(
        self,
        terms: list[Term],
        k: int = 50,
        *,
        min_score: float | None = None,
        min_match: float | None = None,
        sort: str = "score",
        coherence: float = 0.0,
        filters: Filters | None = None,
        picture_balance: float = PICTURE_BALANCE,
    ) -> list[Hit]:
        check_k(k)
        named = {int(t.text[1:]) for t in terms if t.target == "image" and t.text.startswith("#")}
        return self.fuse(
            self.encode_terms(terms, picture_balance),
            k,
            exclude=named,
            min_score=min_score,
            min_match=min_match,
            sort=sort,
            coherence=coherence,
            filters=filters,
        )

    def search_text(self, text: str, k: int = 50) -> list[Hit]:
        text = (text or "").strip()
        if not text:
            raise QueryError("the query is empty: type what you are looking for")
        return self.search([Term(text[:300])], k)

    # find similar -------------------------------------------------------------------------------------
    def balance_weights(self, balance: float) -> dict[str, float]:
        """balance 0 = content only, 1 = style only; the style side blends CLIP-L and the VAE descriptor."""
        check_balance(balance)
        style_side = [s for s in ("style", "texture") if s in self.encoders]
        if balance > 0 and not style_side:
            self._require("style")
        weights = {"content": 1.0 - balance} if balance < 1 else {}
        for s in style_side:
            if balance > 0:
                weights[s] = balance / len(style_side)
        return weights

    def similar(self, image_id: int, k: int = 50, balance: float = 0.0, within_km: float | None = None) -> list[Hit]:
        """Optionally only among images taken within `within_km` of this one."""
        check_k(k)
        weights = self.balance_weights(balance)
        row = self.catalog.get(image_id)
        if row is None:
            raise LookupError(f"no image with id {image_id}")
        parts = []
        if check_radius(within_km) is not None:
            if row.gps is None:
                raise QueryError(f"image {image_id} has no GPS position, so there is nothing to be near")
            area = Area("city", f"#{image_id}", row.place_country_code or "", None, row.gps_lat, row.gps_lon, within_km)
            parts.append(Part(f"within {within_km:g} km of #{image_id}", "location", 0.0, None, None, area, True))
        for space, w in weights.items():
            vec = self.index_for(space).reconstruct(image_id)
            if vec is None:
                if space == "content":
                    raise LookupError(f"image {image_id} has no content vector ({row.status}: {row.error or ''})")
                continue  # not yet indexed in this style space: the other spaces still answer
            parts.append(Part(f"similar to #{image_id}", space, w, vec))
        if not any(p.area is None for p in parts):
            raise LookupError(f"image {image_id} is not indexed in the style spaces yet: run `styleseek index` again")
        return self.fuse(parts, k, exclude=image_id)

    def similar_to_image(self, image: Image.Image, k: int = 50, balance: float = 0.0) -> list[Hit]:
        """Find similar for a picture that is not indexed: it is embedded now, in each space the balance uses."""
        check_k(k)
        parts = [
            Part("the given image", space, w, self.encoders[space].encode_images([image])[0])
            for space, w in self.balance_weights(balance).items()
        ]
        return self.fuse(parts, k)

    # the fusion itself ----------------------------------------------------------------------------------
    def fuse(
        self,
        parts: list[Part],
        k: int,
        *,
        exclude: int | set[int] | None = None,
        min_score: float | None = None,
        min_match: float | None = None,
        sort: str = "score",
        coherence: float = 0.0,
        filters: Filters | None = None,
    ) -> list[Hit]:
        filters = filters or Filters()
        check_sort(sort)
        check_coherence(coherence)
        check_min_score(min_score)
        check_min_match(min_match)
        positive = [p for p in parts if p.weight > 0]
        norm = sum(p.weight for p in positive)
        if norm <= 0:
            raise QueryError("a query needs at least one term with a positive weight")
        vector_positive = [p for p in positive if p.area is None]
        lists = Lists(parts if vector_positive else [], self.index_for, norm)
        from_areas: set[int] = set()
        for p in parts:
            # location terms alone list the images taken there; an "only in" area brings its own images too,
            # so that a strict filter still fills the page (up to a bound, the rest come from the vectors)
            if p.area is not None and (not vector_positive and p.weight > 0 or p.hard):
                a, cap = p.area, 50_000 if not vector_positive else 20_000
                found = self.catalog.ids_in_area(a.kind, a.country_code, a.region, a.lat, a.radius_km, cap, a.lon)
                from_areas.update(found)
        depth = max(4 * k, 100)
        for _ in range(MAX_ROUNDS):  # deeper until no unseen image can enter the top k (search/candidates.py)
            cands = lists.top(depth + 1) | from_areas
            cands -= {exclude} if isinstance(exclude, int) else (exclude or set())  # the example pictures
            if not cands:
                return []
            ids = np.array(sorted(cands), dtype=np.int64)
            sims, present, contrib, _, _ = self._score(parts, ids, norm, exact=False)  # ranks; codes will do
            scores = contrib.sum(axis=0)
            keep = self._filter_mask(parts, sims, present, ids, filters)
            kept = np.sort(scores[keep & (scores >= (-np.inf if min_score is None else min_score))])[::-1]
            if lists.done(float(kept[k - 1]) if len(kept) >= k else None):
                break
            depth *= GROWTH
        ids = np.sort(ids[keep][np.argsort(-scores[keep], kind="stable")[: 2 * k]])  # the few shown: exactly
        sims, present, contrib, vectors, places = self._score(parts, ids, norm)
        scores = contrib.sum(axis=0)
        keep = self._filter_mask(parts, sims, present, ids, filters)
        boost = np.zeros_like(scores)
        if coherence > 0 and "style" in self.encoders:
            style = vectors.get("style") or self.index_for("style").reconstruct_many(ids)
            boost = coherence_boost(scores, style, coherence)
        final = scores + boost
        near = distance_to_first_point(parts, places, len(ids))  # nearest first among equal scores
        order = sorted(range(len(ids)), key=lambda i: (-round(float(final[i]), 6), near[i], int(ids[i])))
        order = [i for i in order if keep[i] and (min_score is None or final[i] >= min_score)]
        best = float(final[order[0]]) if order else 0.0
        if min_match is not None and best > 0:
            order = [i for i in order if final[i] >= best * min_match / 100 - 1e-9]
        order = order[:k]
        rows = self.catalog.get_many(int(ids[i]) for i in order)
        hits = []
        for i in order:
            iid = int(ids[i])
            if iid not in rows:
                continue
            hp = [
                (p.label, p.space, p.weight, float(sims[j, i]) if present[j, i] else None, float(contrib[j, i]))
                for j, p in enumerate(parts)
            ]
            match = max(0.0, float(final[i]) / best) if best > 0 else 0.0
            hits.append(Hit(rows[iid], float(final[i]), hp, float(boost[i]), match))
        if sort == "date":  # newest first by the moment taken (UTC where the offset is known), undated last
            hits.sort(key=lambda h: UNDATED if h.image.taken_sort is None else h.image.taken_sort, reverse=True)
        return hits

    def _score(self, parts: list[Part], ids: np.ndarray, norm: float, exact: bool = True) -> tuple:
        """Scores of every candidate against every part (exact, or from an approximate index's codes):
        (sims, present, contributions, vectors, places)."""
        sims = np.zeros((len(parts), len(ids)), np.float32)
        present = np.zeros((len(parts), len(ids)), bool)
        spaces = {p.space for p in parts} - {"location"}
        vectors = {space: self.index_for(space).reconstruct_many(ids, exact) for space in spaces}
        places = self.catalog.places_of(ids) if any(p.area is not None for p in parts) else None
        for j, p in enumerate(parts):
            if p.area is not None:
                cc, region, lat, lon = places
                present[j] = (cc != None) | ~np.isnan(lat)  # noqa: E711 - elementwise on an object array
                sims[j] = np.where(present[j], p.area.scores(cc, region, lat, lon), 0.0)
                continue
            vecs, have = vectors[p.space]
            sims[j] = np.where(have, vecs @ p.vector.astype(np.float32), 0.0)
            present[j] = have
        weights = np.array([p.weight for p in parts], np.float32)[:, None]
        return sims, present, weights * sims / norm, vectors, places

    def explain(self, terms: list[Term], image_id: int, picture_balance: float = PICTURE_BALANCE) -> Hit:
        """One image's score for a query, with each term's share: the breakdown the preview shows."""
        parts = self.encode_terms(terms, picture_balance)
        row = self.catalog.get(image_id)
        if row is None:
            raise LookupError(f"no image with id {image_id}")
        norm = sum(p.weight for p in parts if p.weight > 0)
        sims, present, contrib, _, _ = self._score(parts, np.array([image_id], np.int64), norm)
        hp = [
            (p.label, p.space, p.weight, float(sims[j, 0]) if present[j, 0] else None, float(contrib[j, 0]))
            for j, p in enumerate(parts)
        ]
        return Hit(row, float(contrib[:, 0].sum()), hp)

    def _filter_mask(
        self, parts: list[Part], sims: np.ndarray, present: np.ndarray, ids: np.ndarray, f: Filters
    ) -> np.ndarray:
        keep = np.ones(len(ids), bool)
        if not any(p.weight > 0 and p.area is None for p in parts):
            # places alone: the pictures inside one of them (the soft decay only ranks when other terms do)
            inside = np.zeros(len(ids), bool)
            for j, p in enumerate(parts):
                if p.area is not None and p.weight > 0:
                    inside |= present[j] & (sims[j] >= 1.0 - 1e-6)
            keep &= inside
        for j, p in enumerate(parts):
            if p.area is None:
                continue
            if p.hard:  # inside the area, and known to be
                keep &= present[j] & (sims[j] >= 1.0 - 1e-6)
            elif f.unplaced == "drop":
                keep &= present[j]
        if f.taken_from or f.taken_to or f.camera or f.with_gps:
            meta = self.catalog.get_many(int(i) for i in ids)
            for n, i in enumerate(ids):
                row = meta.get(int(i))
                taken = (row.taken_at or "") if row else ""
                # partial dates compare on their own length: to 2021 includes all of 2021
                if f.taken_from and not (taken and taken[: len(f.taken_from)] >= f.taken_from):
                    keep[n] = False
                if f.taken_to and not (taken and taken[: len(f.taken_to)] <= f.taken_to):
                    keep[n] = False
                if f.camera and not (row and row.camera and f.camera.casefold() in row.camera.casefold()):
                    keep[n] = False
                if f.with_gps and not (row and row.gps):
                    keep[n] = False
        return keep
