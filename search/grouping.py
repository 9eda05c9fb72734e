"""Results grouped by where they were taken: clusters of nearby photos, labelled with the town people name."""

from __future__ import annotations

import numpy as np

from geo.gazetteer import distance_km, place_label

CLUSTER_KM = 10.0  # photos this close to a group's first photo join its group


def group_by_place(records: list[dict], cluster_km: float = CLUSTER_KM) -> list[tuple[str, list[dict]]]:
    """Results grouped into clusters of nearby photos: each photo joins the first group (in fused order)
    whose first photo lies within `cluster_km`, so a town and its suburbs are one group. A group is labelled
    with its commonest place (the best-ranked one on a tie) and names the other towns in it. Groups keep the
    fused order inside and are ordered by their best hit; photos without a place come last."""
    clusters: list[tuple[tuple[float, float], list[dict]]] = []
    unplaced: list[dict] = []
    for r in records:
        gps = r.get("gps")
        if not r.get("place") or not gps:
            unplaced.append(r)
            continue
        for (lat, lon), members in clusters:
            if distance_km(np.array([gps["lat"]]), np.array([gps["lon"]]), lat, lon)[0] <= cluster_km:
                members.append(r)
                break
        else:
            clusters.append(((gps["lat"], gps["lon"]), [r]))
    out = []
    for _, members in clusters:
        labels = [place_label(m["place"], detail=False) for m in members]  # the towns, not their quarters
        top = max(dict.fromkeys(labels), key=labels.count)  # dict.fromkeys keeps rank order for ties
        top_city = next(m["place"]["city"] for m in members if place_label(m["place"], detail=False) == top)
        others = list(dict.fromkeys(m["place"]["city"] for m in members if m["place"]["city"] != top_city))
        out.append((top + (f" (also {', '.join(others[:3])})" if others else ""), members))
    return out + ([("No place", unplaced)] if unplaced else [])
