"""What orders a fused ranking beyond its scores: the style-coherence boost and the nearest-first tie-break."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geo.gazetteer import distance_km


def distance_to_first_point(parts: Sequence, places: tuple | None, n: int) -> np.ndarray:
    """Each candidate's distance to the query's first point area (0 for all when there is none); uses the
    places the scoring already read: a point area implies they were read."""
    point = next((p.area for p in parts if p.area is not None and p.area.lat is not None), None)
    if point is None or places is None:
        return np.zeros(n)
    _, _, lat, lon = places
    return np.nan_to_num(distance_km(lat, lon, point.lat, point.lon), nan=np.inf)


def coherence_boost(
    scores: np.ndarray, style: tuple[np.ndarray, np.ndarray], strength: float, top: int = 10
) -> np.ndarray:
    """Raise results whose style is near the style centroid of the current top results."""
    vecs, have = style
    ranked = [i for i in np.argsort(-scores, kind="stable") if have[i]][:top]
    if len(ranked) < 2:
        return np.zeros_like(scores)
    centroid = vecs[ranked].mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    return np.where(have, strength * (vecs @ centroid), 0.0).astype(np.float32)
