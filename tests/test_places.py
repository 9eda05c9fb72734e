"""The offline gazetteer and places at index time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geo.borders import BORDERS
from geo.gazetteer import GAZETTEER, PLACE_VERSION
from geo.geocoder import UnknownPlace
from services import StyleSeek
from settings import Settings
from tests.imagegen import pattern, save_jpeg


@pytest.mark.parametrize(
    ("lat", "lon", "cc"),
    [
        (47.3769, 8.5417, "CH"),  # north-east
        (-33.8688, 151.2093, "AU"),  # south-east
        (-22.9068, -43.1729, "BR"),  # south-west
        (40.7128, -74.0060, "US"),  # north-west
        (64.1466, -21.9426, "IS"),  # far north, where degrees of longitude are short
    ],
)
def test_reverse_geocoding_in_all_hemispheres(lat: float, lon: float, cc: str) -> None:
    (p,) = GAZETTEER.nearest([(lat, lon)])
    assert p.country_code == cc and p.distance_km < 15


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    from math import asin, cos, radians, sin, sqrt

    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    h = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * 6371.0088 * asin(sqrt(h))


def test_the_antimeridian_is_no_edge() -> None:
    # Chukotka at 179.95°E: the nearest town, Egvekinot, lies across the line at 179.12°W (about 40 km);
    # in plain lat/lon it would look 359° away and Beringovskiy (about 360 km) would win
    (p,) = GAZETTEER.nearest([(66.32321, 179.95)])
    assert p.city == "Egvekinot" and p.lon < -179
    assert p.distance_km == pytest.approx(haversine_km(66.32321, 179.95, p.lat, p.lon), rel=1e-3)
    assert p.distance_km < 50


def test_places_are_stored_at_index_time_and_backfilled(tmp_path: Path, settings: Settings, shared_encoder) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    a = save_jpeg(lib / "sydney.jpg", pattern(60, 40, 1), gps=(-33.8688, 151.2093, None))
    b = save_jpeg(lib / "pantheon.jpg", pattern(60, 40, 3), gps=(41.8986, 12.4769, None))
    save_jpeg(lib / "nogps.jpg", pattern(60, 40, 2))
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    svc.index_folders([lib])
    row = svc.catalog.get_by_path(str(a))
    assert row.place == {"city": "Sydney", "region": "New South Wales", "country_code": "AU", "detail": None}
    assert svc.catalog.get_by_path(str(b)).place["country_code"] == "IT"
    assert svc.catalog.get_by_path(str(lib / "nogps.jpg")).place is None
    # a catalog from before the gazetteer: the next run fills the place in, without re-embedding anything
    with svc.catalog.transaction() as t:
        t.execute("UPDATE images SET place_city=NULL, place_region=NULL, place_country_code=NULL, place_version=NULL")
        # and one placed by version 1 (nearest populated place only): the Pantheon's nearest point is Vatican City
        t.execute(
            "UPDATE images SET place_city='Vatican City', place_country_code='VA', place_version=1 WHERE id=?",
            (svc.catalog.get_by_path(str(b)).id,),
        )
    assert sorted(r[0] for r in svc.catalog.lacking_place(PLACE_VERSION)) == sorted(
        [row.id, svc.catalog.get_by_path(str(b)).id]
    )
    r = svc.index_folders([lib])
    assert r.indexed == 0 and r.unchanged == 3
    assert svc.catalog.get(row.id).place["country_code"] == "AU" and svc.catalog.lacking_place(PLACE_VERSION) == []
    assert svc.catalog.get_by_path(str(b)).place == {
        "city": "Rome",
        "region": "Lazio",
        "country_code": "IT",
        "detail": None,
    }


def test_country_comes_from_outlines_and_town_centres() -> None:
    """The Pantheon is nearest to the Vatican City gazetteer point but lies in Italy; St Peter's Square is in the
    Vatican (the 1:50m outline of the Vatican is too coarse to say so, the town centre 60 m away does); the
    Fiji and Chukotka outlines cross the antimeridian."""
    got = GAZETTEER.nearest([(41.8986, 12.4769), (41.9022, 12.4539), (-16.5, -179.95), (67.5, -178.0), (0.0, 0.0)])
    assert [p.country_code for p in got] == ["IT", "VA", "FJ", "RU", "GH"]
    assert got[0].city == "Rome"
    assert BORDERS.country_codes(np.array([-16.5, 67.5, 0.0]), np.array([-179.95, -178.0, 0.0])) == ["FJ", "RU", None]


@pytest.fixture
def world(tmp_path: Path, settings: Settings, shared_encoder) -> StyleSeek:  # noqa: ANN001
    lib = tmp_path / "trip"
    spots = {
        "zurich": (47.3769, 8.5417),
        "paris": (48.8566, 2.3522),
        "lyon": (45.764, 4.8357),
        "villeurbanne": (45.7719, 4.8902),
        "sydney": (-33.8688, 151.2093),
    }
    for i, (name, (lat, lon)) in enumerate(spots.items()):
        save_jpeg(lib / f"{name}.jpg", pattern(64, 48, i), gps=(lat, lon, None))
    save_jpeg(lib / "unplaced.jpg", pattern(64, 48, 9))
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    svc.index_folders([lib])
    return svc


def names(hits) -> list[str]:  # noqa: ANN001
    return [Path(h.image.path).stem for h in hits]


def test_location_terms_alone_list_the_images_taken_there(world: StyleSeek) -> None:
    assert set(names(world.search("in: France"))) == {"paris", "lyon", "villeurbanne"}
    assert names(world.search("in: CH")) == ["zurich"]
    near = world.search("near: Lyon 10km", k=6)
    assert names(near) == ["lyon", "villeurbanne"]  # both within 10 km, the nearer first; Paris is not listed
    assert set(names(world.search("in: France, in: CH"))) == {"paris", "lyon", "villeurbanne", "zurich"}
    assert names(world.search("near: Lyon 10km:0.5, -in: Paris")) == ["lyon", "villeurbanne"]
    assert near[0].score == pytest.approx(1.0)
    # with a content term every image is scored: outside the radius the location score decays
    mixed = {Path(h.image.path).stem: h for h in world.search("red, near: Lyon 10km", k=6)}
    assert mixed["lyon"].parts[1][3] == pytest.approx(1.0)
    assert 0 < mixed["paris"].parts[1][3] < 1e-3  # Paris is ~390 km away
    assert names(world.search("in: New South Wales")) == ["sydney"]


def test_location_terms_fuse_with_content_terms(world: StyleSeek) -> None:
    hits = world.search("red square in France", k=6)
    assert set(names(hits)[:3]) == {"paris", "lyon", "villeurbanne"}
    top = hits[0].contributions()
    assert set(top["models"]) == {"content", "location"}
    assert [t["target"] for t in top["terms"]] == ["content", "location"]
    unplaced = next(h for h in hits if Path(h.image.path).stem == "unplaced")
    assert unplaced.parts[1][3] is None  # no place: the location similarity is unknown, not 0


def test_unknown_places_are_reported(world: StyleSeek) -> None:
    from search.query import QueryError

    with pytest.raises(QueryError, match="unknown place"):
        world.search("in: Atlantis Under The Sea")
    assert names(world.search("a dog in water", k=6))  # not a place: stays a content term


def test_geocoder_picks_the_most_populous_match_and_offers_others() -> None:
    from geo.geocoder import GEOCODER

    paris = GEOCODER.resolve("Paris")
    assert (paris.kind, paris.country_code) == ("city", "FR")
    assert any("US" in a for a in paris.alternatives)
    assert GEOCODER.resolve("France").kind == "country" and GEOCODER.resolve("fr").country_code == "FR"
    assert GEOCODER.resolve("Zurich 20km").radius_km == 20 and GEOCODER.resolve("zürich").name == "Zürich"
    assert GEOCODER.resolve("Bavaria").kind == "region"


def test_qualified_names_pick_one_town_and_every_alternative_resolves_to_itself() -> None:
    from geo.geocoder import GEOCODER

    for name in ("Paris", "Springfield", "Cambridge", "Saint-Louis"):
        best = GEOCODER.resolve(name)
        assert len(best.alternatives) >= 2, name
        seen = {(best.name, best.region, best.country_code)}
        for alt in best.alternatives:
            a = GEOCODER.resolve(alt)
            assert a.kind == "city" and a.alternatives == () and alt.startswith(a.name), alt
            assert alt.endswith(f"{a.country_code})") and (a.region is None or a.region in alt), alt
            assert (a.name, a.region, a.country_code) not in seen, alt  # a different town each time
            seen.add((a.name, a.region, a.country_code))
    assert GEOCODER.resolve("Paris, Texas").region == "Texas"  # commas work where the text is one term (CLI)
    assert GEOCODER.resolve("paris (us)").country_code == "US"
    assert GEOCODER.resolve("Paris, France").country_code == "FR"
    assert "Île-de-France" in GEOCODER.resolve("Paris").label  # the label says which Paris
    assert GEOCODER.resolve("Georgia (US)").kind == "region" and GEOCODER.resolve("Georgia").kind == "country"
    with pytest.raises(UnknownPlace):
        GEOCODER.resolve("Paris (Germany)")


def test_landmarks_resolve_to_a_point_with_their_own_radius() -> None:
    from geo.geocoder import GEOCODER

    eiffel = GEOCODER.resolve("Eiffel Tower")
    assert (eiffel.kind, eiffel.country_code, eiffel.radius_km) == ("landmark", "FR", 1.0)
    assert eiffel.label == "Eiffel Tower (landmark), FR, 1 km"
    assert GEOCODER.resolve("eiffel tower 3km").radius_km == 3
    assert GEOCODER.resolve("Eiffel Tower", near=True).radius_km > eiffel.radius_km
    # aliases, accents and punctuation fold: all of these are one place
    assert {
        GEOCODER.resolve(n).name for n in ("St Peters Basilica", "st. peter's basilica", "Saint Peter's Basilica")
    } == {"St. Peter's Basilica"}
    assert GEOCODER.resolve("sacre coeur").name == "Sacré-Cœur" and GEOCODER.resolve("Ayers Rock").name == "Uluru"
    # a landmark that shares its name with a town offers the town, and the town's qualified name picks it
    falls = GEOCODER.resolve("Victoria Falls")
    assert falls.kind == "landmark" and falls.alternatives
    assert GEOCODER.resolve(falls.alternatives[0]).kind == "city"


def test_every_landmark_lies_in_its_country() -> None:
    """Checks the shipped coordinates: a sign or digit slip would put a landmark in another country or at sea.
    Three lie on a border, where the summit or the falls is shared."""
    from geo.geocoder import GEOCODER

    GEOCODER._ready()
    marks = {lm.name: lm for lm in GEOCODER.landmarks.values()}
    assert len(marks) >= 150
    got = GAZETTEER.nearest([(lm.lat, lm.lon) for lm in marks.values()])
    on_borders = {"Mont Blanc": "IT", "Victoria Falls": "ZM", "Mount Everest": "CN"}
    wrong = {
        n: p.country_code
        for (n, lm), p in zip(marks.items(), got, strict=True)
        if p.country_code != lm.country_code and on_borders.get(n) != p.country_code
    }
    assert wrong == {}
    assert all(0 < lm.radius_km <= 300 for lm in marks.values())


def test_landmark_terms_find_the_photos_taken_there(tmp_path: Path, settings: Settings, shared_encoder) -> None:  # noqa: ANN001
    lib = tmp_path / "paris"
    spots = {"eiffel": (48.8583, 2.2950), "notre-dame": (48.8529, 2.3500), "versailles": (48.8049, 2.1204)}
    for i, (name, (lat, lon)) in enumerate(spots.items()):
        save_jpeg(lib / f"{name}.jpg", pattern(48, 32, i), gps=(lat, lon, None))
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    svc.index_folders([lib])
    assert names(svc.search("only in: Eiffel Tower")) == ["eiffel"]
    assert names(svc.search("near: Eiffel Tower", k=3))[0] == "eiffel"  # the others decay with distance
    assert names(svc.search("red, only in: Notre Dame")) == ["notre-dame"]
    assert names(svc.search("in: Paris (Texas, US)")) == []  # the other Paris has none of these photos


def test_only_in_is_a_hard_filter_and_unplaced_is_a_choice(world: StyleSeek) -> None:
    from search.engine import Filters

    soft = names(world.search("red square, in: France", k=6))
    assert len(soft) == 6 and "sydney" in soft and "unplaced" in soft  # ranked lower, still there
    hard = names(world.search("red square, only in: France", k=6))
    assert set(hard) == {"paris", "lyon", "villeurbanne"}
    dropped = names(world.search("red square, in: France", k=6, filters=Filters(unplaced="drop")))
    assert "unplaced" not in dropped and len(dropped) == 5


def test_find_similar_within_a_radius(world: StyleSeek) -> None:
    from search.query import QueryError

    lyon = world.catalog.get_by_path(
        next(r.path for r in world.catalog.get_many(range(1, 10)).values() if r.path.endswith("lyon.jpg"))
    )
    assert names(world.similar(lyon.id, k=5, within_km=20)) == ["villeurbanne"]
    assert set(names(world.similar(lyon.id, k=5, within_km=500))) == {"villeurbanne", "paris", "zurich"}
    unplaced = next(r for r in world.catalog.get_many(range(1, 10)).values() if r.path.endswith("unplaced.jpg"))
    with pytest.raises(QueryError, match="no GPS"):
        world.similar(unplaced.id, within_km=10)


def test_date_and_camera_filters(tmp_path: Path, settings: Settings, shared_encoder) -> None:  # noqa: ANN001
    from search.engine import Filters
    from search.query import QueryError

    lib = tmp_path / "dated"
    save_jpeg(lib / "a.jpg", pattern(60, 40, 1), taken="2019:05:01 10:00:00", make="Canon", model="Canon EOS R5")
    save_jpeg(lib / "b.jpg", pattern(60, 40, 2), taken="2021:07:14 10:00:00", make="NIKON", model="D850")
    save_jpeg(lib / "c.jpg", pattern(60, 40, 3))
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    svc.index_folders([lib])
    assert names(svc.search("anything", filters=Filters(taken_from="2020"))) == ["b"]
    assert names(svc.search("anything", filters=Filters(taken_to="2019-12"))) == ["a"]
    assert names(svc.search("anything", filters=Filters(taken_from="2019", taken_to="2021"))) in (
        ["a", "b"],
        ["b", "a"],
    )
    assert names(svc.search("anything", filters=Filters(camera="eos"))) == ["a"]
    with pytest.raises(QueryError, match="must be a date"):
        Filters(taken_from="last summer")


def test_results_grouped_by_place(world: StyleSeek) -> None:
    from search.grouping import group_by_place
    from search.records import image_record

    hits = world.search("red square", k=6)
    records = [{**image_record(h.image, world.thumbs), "score": h.score} for h in hits]
    groups = group_by_place(records)
    labels = [label for label, _ in groups]
    assert labels[-1] == "No place" and len(labels) == 5  # four clusters, and the unplaced last
    assert sum(len(m) for _, m in groups) == 6
    # Lyon and Villeurbanne (5 km apart) are one cluster, labelled by one and naming the other
    (lyon,) = [(label, m) for label, m in groups if len(m) == 2]
    assert sorted(r["place"]["city"] for r in lyon[1]) == ["Lyon", "Villeurbanne"]  # not "Lyon 01"
    assert "(also " in lyon[0] and ("Lyon" in lyon[0] and "Villeurbanne" in lyon[0])
    far = group_by_place(records, cluster_km=1.0)  # a small radius: every town its own group
    assert len(far) == 6
    order = [r["id"] for r in records]
    assert [order.index(m[0]["id"]) for _, m in groups[:-1]] == sorted(order.index(m[0]["id"]) for _, m in groups[:-1])
    assert any(label.endswith(", FR") for label in labels)


def test_country_membership_near_borders(tmp_path: Path, settings: Settings, shared_encoder) -> None:  # noqa: ANN001
    """The Basel tripoint (CH/FR/DE within 3 km) and Tijuana/San Ysidro (MX/US within 5 km)."""
    lib = tmp_path / "borders"
    spots = {
        "basel": (47.5596, 7.5886),
        "saint-louis": (47.5900, 7.5600),
        "weil": (47.5937, 7.6206),
        "tijuana": (32.5149, -117.0382),
        "san-ysidro": (32.5550, -117.0470),
    }
    for i, (name, (lat, lon)) in enumerate(spots.items()):
        save_jpeg(lib / f"{name}.jpg", pattern(48, 32, i), gps=(lat, lon, None))
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    svc.index_folders([lib])
    expect = {"CH": ["basel"], "FR": ["saint-louis"], "DE": ["weil"], "MX": ["tijuana"], "US": ["san-ysidro"]}
    for cc, want in expect.items():
        assert names(svc.search(f"only in: {cc}")) == want, cc
        assert names(svc.search(f"red, only in: {cc}")) == want, cc


PEOPLE_NAME = [
    # (where, lat, lon, town, detail): the nearest gazetteer records are districts or neighbours
    ("Eiffel Tower", 48.8584, 2.2945, "Paris", None),  # nearest record: Neuilly-sur-Seine, 3.4 km
    ("Croix-Rousse, Lyon", 45.7790, 4.8310, "Lyon", None),  # nearest: Lyon 04, then Caluire-et-Cuire
    ("Winterthur old town", 47.4996, 8.7290, "Winterthur", "Altstadt"),  # "Stadt Winterthur (Kreis 1) / Altstadt"
    ("Midtown Manhattan", 40.7527, -73.9772, "New York City", "Manhattan"),  # nearest: Gramercy Park
]


@pytest.mark.parametrize(("where", "lat", "lon", "town", "detail"), PEOPLE_NAME)
def test_the_place_is_the_town_a_person_would_name(where: str, lat: float, lon: float, town: str, detail) -> None:  # noqa: ANN001
    from geo.gazetteer import place_label

    (p,) = GAZETTEER.nearest([(lat, lon)])
    assert (p.city, p.detail) == (town, detail), where
    assert place_label(p.to_dict()).startswith(f"{detail}, {town}" if detail else town)


def test_towns_beside_a_city_keep_their_own_name() -> None:
    """Caluire-et-Cuire is its own commune beside Lyon (GeoNames' commune codes differ), Newark its own city
    across the state line from New York; Neuilly-sur-Seine has no code that separates it from Paris and lies
    inside Paris's radius: Paris, with Neuilly as the detail."""
    caluire, newark, neuilly = GAZETTEER.nearest([(45.7953, 4.8466), (40.7357, -74.1724), (48.8846, 2.2697)])
    assert (caluire.city, caluire.detail) == ("Caluire-et-Cuire", None)
    assert (newark.city, newark.region) == ("Newark", "New Jersey")
    assert (neuilly.city, neuilly.detail) == ("Paris", "Neuilly-sur-Seine")


def test_forward_geocoding_and_grouping_use_the_same_town_names() -> None:
    from geo.geocoder import GEOCODER
    from search.grouping import group_by_place

    eiffel, louvre, midtown = GAZETTEER.nearest([(48.8584, 2.2945), (48.8606, 2.3376), (40.7527, -73.9772)])
    area = GEOCODER.resolve(eiffel.city)
    assert area.kind == "city" and area.name == "Paris" and area.country_code == "FR"
    nyc = GEOCODER.resolve(midtown.city)
    lat, lon = np.array([40.7527]), np.array([-73.9772])
    assert nyc.scores(np.array(["US"], object), np.array(["New York"], object), lat, lon)[0] == 1.0
    recs = [
        {"id": i, "place": p.to_dict(), "gps": {"lat": p.lat, "lon": p.lon}} for i, p in enumerate((eiffel, louvre))
    ]
    ((label, members),) = group_by_place(recs)
    assert label == "Paris, Île-de-France, FR" and len(members) == 2


def test_rows_placed_by_an_older_method_get_todays_names(tmp_path: Path, settings: Settings, shared_encoder) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    p = save_jpeg(lib / "tower.jpg", pattern(60, 40, 1), gps=(48.8584, 2.2945, None))
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    svc.index_folders([lib])
    iid = svc.catalog.get_by_path(str(p)).id
    with svc.catalog.transaction() as t:  # as version 2 stored it: the nearest record's name
        t.execute("UPDATE images SET place_city='Neuilly-sur-Seine', place_version=2 WHERE id=?", (iid,))
    svc.index_folders([lib])
    assert svc.catalog.get(iid).place["city"] == "Paris" and svc.catalog.get(iid).id == iid


def test_only_pictures_with_gps(world: StyleSeek, capsys: pytest.CaptureFixture) -> None:
    """The option added to show what adding one takes: the form model, one checkbox, the engine's filter."""
    from starlette.testclient import TestClient

    from app import create_app
    from search.options import Filters
    from ui.form import SearchState

    everything = world.search("red square", k=10)
    placed = world.search("red square", k=10, filters=Filters(with_gps=True))
    assert len(everything) == 6 and len(placed) == 5 and all(h.image.gps for h in placed)
    client = TestClient(create_app(world.settings, services=world), base_url="http://127.0.0.1")
    page = client.get("/search", params={"q": "red square", "gps": "1"}, headers={"HX-Request": "true"}).text
    assert page.count('class="result-card') == 5 and "unplaced.jpg" not in page
    from bs4 import BeautifulSoup

    box = BeautifulSoup(client.get("/", params={"q": "red square", "gps": "1"}).text, "html.parser").find(id="with-gps")
    assert box is not None and box.has_attr("checked")  # the page shows the option as set
    st = SearchState(q="red square", with_gps=True)
    assert ("gps", "1") in st.to_params() and st.customised
    from cli import main

    assert main(["search", "red square", "--with-gps", "--json", "--data-dir", str(world.settings.resolved_data_dir),
                 "--models-dir", str(world.settings.resolved_models_dir)]) == 0  # fmt: skip
    assert len(__import__("json").loads(capsys.readouterr().out)) == 5
