from __future__ import annotations

import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from PIL import Image
from starlette.testclient import TestClient

from app import create_app
from services import StyleSeek
from tests.imagegen import make_collection, pattern, save_jpeg, write_broken
from ui.widgets import MODEL_NAMES

HX = {"HX-Request": "true"}


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    make_collection(tmp_path / "lib", 10)
    write_broken(tmp_path / "lib" / "bad")
    return tmp_path / "lib"


@pytest.fixture
def client(svc: StyleSeek) -> TestClient:
    return TestClient(
        create_app(svc.settings, services=svc), base_url="http://127.0.0.1", raise_server_exceptions=False
    )


@pytest.fixture
def indexed(client: TestClient, svc: StyleSeek, lib: Path) -> TestClient:
    svc.index_folders([lib])
    return client


def test_home_page_renders_with_vendored_assets_only(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert "StyleSeek" in html and 'id="search-form"' in html and 'id="index-form"' in html
    assert "cdn." not in html and "jsdelivr" not in html and "https://" not in html
    for asset in (
        "/static/vendor/htmx.min.js",
        "/static/vendor/tailwind.min.css",
        "/static/vendor/franken-core.min.css",
        "/static/vendor/franken-core.iife.js",
        "/static/vendor/daisyui-styled.css",
        "/static/favicon.svg",
    ):
        assert asset in html
        assert client.get(asset).status_code == 200
    assert "Test models in use" in html  # the tiny models are announced as such


def test_search_partial_and_full_page(indexed: TestClient) -> None:
    r = indexed.get("/search", params={"q": "a sunset", "k": "5"}, headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="results"') and "<html" not in r.text
    assert r.text.count('class="result-card') == 5
    assert 'hx-swap-oob="true"' in r.text  # clears an earlier error
    full = indexed.get("/search", params={"q": "a sunset"})
    assert full.status_code == 200 and "<html" in full.text and full.text.count('class="result-card') == 10


def test_a_full_list_of_results_goes_on_as_it_scrolls(indexed: TestClient) -> None:
    """k results, and a loader for the next page while the list is full: it asks for the same search with one
    page more, drawn whole in the list's place; the last page has none. A new search (the form) starts again."""
    import re
    from html import unescape
    from urllib.parse import parse_qsl

    def page(params: dict | list) -> tuple[list[str], str | None]:
        r = indexed.get("/search", params=params, headers=HX)
        assert r.status_code == 200, r.text[:300]
        ids = re.findall(r'data-id="(\d+)"[^>]*class="result-card', r.text)
        more = re.search(r'hx-get="(/search\?[^"]*)"[^>]*hx-target="#results" class="more-pictures', r.text)
        return ids, unescape(more.group(1)) if more else None

    first, more = page({"q": "a sunset", "k": "4"})
    assert len(first) == 4 and more is not None and "pages=2" in more and "k=4" in more
    second, more = page(parse_qsl(more.split("?", 1)[1]))
    assert len(second) == 8 and second[:4] == first and more is not None and "pages=3" in more
    third, more = page(parse_qsl(more.split("?", 1)[1]))
    assert len(third) == 10 and third[:8] == second and more is None  # all ten: the end
    full = indexed.get("/search", params={"q": "a sunset", "k": "4", "pages": "2"}).text
    assert full.count('class="result-card') == 8 and 'name="pages"' not in full  # the form's next search: page 1
    assert indexed.get("/search", params={"q": "a sunset", "k": "4", "pages": "0"}, headers=HX).status_code == 400


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/search?q=x&k=abc", 400, "k must be a whole number"),
        ("/search?q=x&k=24&pages=0", 400, "pages must be between 1 and 42"),
        ("/search?q=x&k=500&pages=3", 400, "pages must be between 1 and 2"),
        ("/search?q=x&pages=two", 400, "pages must be a whole number"),
        ("/search?q=x&k=0", 400, "k must be between"),
        ("/search?q=x&k=100000", 400, "k must be between"),
        ("/?k=-1", 400, "k must be between"),
        ("/similar?id=abc", 400, "id must be a whole number"),
        ("/similar", 400, "needs an image id"),
        ("/similar?id=99999", 404, "no indexed image"),
        ("/preview?id=", 400, "id must be"),
        ("/thumb/abc", 400, "id must be"),
        ("/thumb/99999", 404, "no indexed image"),
        ("/full/-5", 400, "between"),
        ("/nope", 404, "Not found"),
    ],
)
def test_bad_parameters_get_4xx_with_a_message(indexed: TestClient, url: str, status: int, message: str) -> None:
    for headers in ({}, HX):
        r = indexed.get(url, headers=headers)
        assert r.status_code == status, (url, r.text[:300])
        assert message in r.text
        assert "Traceback" not in r.text
    assert indexed.get(url, headers=HX).headers.get("HX-Retarget") == "#error-slot"  # under the search bar


def test_a_link_naming_a_picture_opens_it_and_a_stale_one_still_shows_the_page(indexed: TestClient) -> None:
    first = BeautifulSoup(indexed.get("/search", params={"q": "a sunset"}, headers=HX).text, "html.parser")
    iid = first.select_one(".result-card")["data-id"]
    page = indexed.get("/", params={"q": "a sunset", "view": iid})
    assert page.status_code == 200 and 'id="preview-dialog"' in page.text and f'data-id="{iid}"' in page.text
    assert "Why it matched" in page.text  # the query's breakdown, as from the card
    stale = indexed.get("/", params={"q": "a sunset", "view": "99999"})
    assert stale.status_code == 200 and "preview-dialog" not in stale.text and "result-card" in stale.text


def test_back_after_htmx_lost_its_history_gets_the_whole_page(indexed: TestClient) -> None:
    restore = {**HX, "HX-History-Restore-Request": "true"}
    r = indexed.get("/search", params={"q": "a sunset"}, headers=restore)
    assert "<html" in r.text and 'id="search-form"' in r.text and 'value="a sunset"' in r.text


def test_errors_land_beside_the_controls_that_caused_them(indexed: TestClient) -> None:
    page = indexed.get("/").text
    assert page.index('id="search-form"') < page.index('id="error-slot"') < page.index('id="results"')
    assert page.index('id="index-form"') < page.index('id="library-error"') < page.index('id="folders"')
    r = indexed.post("/index_start", data={"path": "/no/such/folder"}, headers=HX)
    assert r.status_code == 400 and r.headers["HX-Retarget"] == "#library-error" and "Not a folder" in r.text
    r = indexed.post("/folder_remove", data={"id": "999"}, headers=HX)
    assert r.status_code == 404 and r.headers["HX-Retarget"] == "#library-error"


def test_images_are_served_by_id_only(indexed: TestClient, svc: StyleSeek, lib: Path) -> None:
    row = svc.catalog.get_by_path(str(lib / "img001.jpg"))
    t = indexed.get(f"/thumb/{row.id}")
    assert t.status_code == 200 and t.headers["content-type"] == "image/webp"
    f = indexed.get(f"/full/{row.id}")
    assert f.status_code == 200 and f.headers["content-type"] == "image/jpeg"
    err = svc.catalog.get_by_path(str(lib / "bad" / "zero.jpg"))
    assert indexed.get(f"/thumb/{err.id}").status_code == 404  # failed files are not served


def test_full_image_is_orientation_corrected(client: TestClient, svc: StyleSeek, tmp_path: Path) -> None:
    upright = pattern(120, 80, 4)
    p = save_jpeg(tmp_path / "o" / "r.jpg", upright.rotate(90, expand=True), orientation=6)
    svc.index_folders([tmp_path / "o"])
    row = svc.catalog.get_by_path(str(p))
    import io

    im = Image.open(io.BytesIO(client.get(f"/full/{row.id}").content))
    assert im.size == (120, 80)
    assert im.getpixel((5, 5))[0] > 200  # the red corner is top-left again


@pytest.mark.parametrize(
    "path",
    [
        "/app.py",
        "/pyproject.toml",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/data/styleseek.sqlite3",
        "/static/vendor/../../../settings.py",
        "/thumb/..%2f..%2fapp.py",
        "/.sesskey",
    ],
)
def test_no_project_or_data_file_is_reachable(indexed: TestClient, path: str) -> None:
    r = indexed.get(path)
    assert r.status_code in (400, 404)
    assert "import" not in r.text and "SQLite format" not in r.text and "root:" not in r.text


def test_foreign_host_and_cross_site_post_are_refused(svc: StyleSeek, lib: Path) -> None:
    app = create_app(svc.settings, services=svc)
    assert TestClient(app, base_url="http://evil.example").get("/").status_code == 400  # DNS rebinding
    c = TestClient(app, base_url="http://127.0.0.1")
    r = c.post("/index_start", data={"path": str(lib)}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert svc.job is None


def test_preview_modal_and_find_similar(indexed: TestClient, svc: StyleSeek, lib: Path) -> None:
    row = svc.catalog.get_by_path(str(lib / "img001.jpg"))
    r = indexed.get("/preview", params={"id": row.id}, headers=HX)
    assert r.status_code == 200
    assert f'data-full="/full/{row.id}"' in r.text and f'src="/thumb/{row.id}"' in r.text  # thumbnail first
    assert "Canon EOS R5" in r.text and "47.37690" in r.text
    assert "Zurich, CH" in r.text  # the place from the offline gazetteer
    for balance in ("0", "0.5", "1"):  # content, balanced and style modes
        assert f'hx-get="/similar?id={row.id}&amp;balance={balance}"' in r.text
    s = indexed.get("/similar", params={"id": row.id, "k": "4"}, headers=HX)
    assert s.status_code == 200 and s.text.count('class="result-card') == 4
    assert f'data-id="{row.id}"' not in s.text
    # a full list goes on: the next page is the same pictures and four more; the nine others are all there are
    assert f'hx-get="/similar?id={row.id}&amp;k=4&amp;pages=2&amp;balance=0"' in s.text
    s2 = indexed.get("/similar", params={"id": row.id, "k": "4", "pages": "2"}, headers=HX)
    assert s2.text.count('class="result-card') == 8 and "pages=3" in s2.text
    s3 = indexed.get("/similar", params={"id": row.id, "k": "4", "pages": "3"}, headers=HX).text
    assert s3.count('class="result-card') == 9 and "more-results" not in s3
    bad = indexed.get("/similar", params={"id": row.id, "k": "4", "pages": "0"}, headers=HX)
    assert bad.status_code == 400 and "pages must be between 1 and 250" in bad.text


def test_index_from_the_ui_with_progress_polling(client: TestClient, svc: StyleSeek, lib: Path) -> None:
    assert client.post("/index_start", data={"path": ""}, headers=HX).status_code == 400
    assert client.post("/index_start", data={"path": "relative/dir"}, headers=HX).status_code == 400
    assert client.post("/index_start", data={"path": str(lib / "nope")}, headers=HX).status_code == 400
    r = client.post("/index_start", data={"path": str(lib)}, headers=HX)
    assert r.status_code == 200 and 'id="index-progress"' in r.text
    deadline = time.monotonic() + 60
    while True:
        p = client.get("/index_progress", headers=HX)
        if "every 500ms" not in p.text:  # polling stops when the run ends
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert 'data-state="done"' in p.text and p.headers.get("HX-Trigger") == "folders-changed"
    assert "10 new" in p.text and "4 failed" in p.text and "zero.jpg" in p.text
    f = client.get("/folders", headers=HX)
    assert str(lib) in f.text and "10" in f.text
    assert client.post("/index_cancel", headers=HX).status_code == 409


def test_cancel_from_the_ui_stops_the_run_and_keeps_what_was_done(settings, shared_encoder, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.test_pipeline import Spy

    class Slow(Spy):
        def encode_prepared(self, batch):  # noqa: ANN001, ANN202
            time.sleep(0.3)
            return super().encode_prepared(batch)

    make_collection(tmp_path / "many", 40)
    svc = StyleSeek(settings, content_encoder=Slow(shared_encoder))
    client = TestClient(create_app(settings, services=svc), base_url="http://127.0.0.1")
    assert client.post("/index_start", data={"path": str(tmp_path / "many")}, headers=HX).status_code == 200
    assert client.post("/index_start", data={"path": str(tmp_path / "many")}, headers=HX).status_code == 409
    deadline = time.monotonic() + 30
    while svc.job.progress.snapshot().indexed < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = client.post("/index_cancel", headers=HX)
    assert r.status_code == 200
    svc.job.thread.join(30)
    snap = svc.job.progress.snapshot()
    assert snap.state == "cancelled" and 4 <= snap.indexed < 40
    p = client.get("/index_progress", headers=HX)
    assert 'data-state="cancelled"' in p.text and "every 500ms" not in p.text
    assert svc.catalog.count("indexed") == snap.indexed == svc.index.ntotal
    # the folder list offers an update button that restarts the same folder
    f = client.get("/folders", headers=HX)
    assert 'hx-post="/index_start"' in f.text and str(tmp_path / "many") in f.text


def test_missing_weights_are_explained_not_crashed(tmp_path: Path) -> None:
    from settings import Settings

    s = Settings(data_dir=tmp_path / "d", models_dir=tmp_path / "none", allow_download=False)
    c = TestClient(create_app(s), base_url="http://127.0.0.1", raise_server_exceptions=False)
    page = c.get("/", params={"q": "dog"})
    assert page.status_code == 200 and "styleseek models download" in page.text and 'id="search-form"' in page.text
    r = c.get("/search", params={"q": "dog"}, headers=HX)
    assert r.status_code == 503 and "styleseek models download" in r.text


def test_weighted_terms_from_the_builder(indexed: TestClient, svc: StyleSeek, lib: Path) -> None:
    params = [
        ("q", "red corner"),
        ("text", "oil painting"),
        ("target", "style"),
        ("weight", "0.8"),
        ("text", "blue"),
        ("target", "content"),
        ("weight", "-0.4"),
        ("text", ""),
        ("target", "content"),
        ("weight", "1"),
        ("k", "6"),
    ]
    r = indexed.get("/search", params=params, headers=HX)
    assert r.status_code == 200, r.text[:300]
    assert r.text.count('class="result-card') == 6
    assert "red corner, style: oil painting:0.8, -blue:0.4" in r.text  # what was understood
    assert 'class="contrib-bar' in r.text and 'data-model="style"' in r.text and 'id="legend"' in r.text
    # the same search through the service gives the same order
    from search.query import parse_query

    expect = [h.image.id for h in svc.search(parse_query("red corner, style: oil painting:0.8, -blue:0.4"), 6)]
    got = [int(c["data-id"]) for c in BeautifulSoup(r.text, "html.parser").select(".result-card")]
    assert got == expect
    # the balance silences one side: at 0 only content terms count
    r0 = indexed.get("/search", params=[*params, ("balance", "0")], headers=HX)
    assert 'data-model="style"' not in r0.text
    # a card opens a preview that explains its score
    first = got[0]
    p = indexed.get("/preview", params={"id": first, "q": "red corner, style: oil painting:0.8"}, headers=HX)
    assert p.status_code == 200 and 'id="breakdown"' in p.text and "oil painting" in p.text
    assert indexed.get("/term_row", headers=HX).text.count('name="weight"') == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("text", "a"), ("target", "style")], "needs a text, a target and a weight"),
        ([("text", "a"), ("target", "style"), ("weight", "abc")], "weight must be a number"),
        ([("text", "a"), ("target", "style"), ("weight", "3")], "between -1 and 1"),
        ([("text", "a"), ("target", "colour"), ("weight", "1")], "unknown target"),
        ([("q", "x"), ("balance", "nan")], "balance must be between"),
        ([("q", "x"), ("sort", "random")], "sort must be one of"),
        ([("q", "x"), ("min_match", "high")], "min_match must be a number"),
        ([("q", "x"), ("min_match", "150")], "min_match must be between 0 and 100"),
        ([("q", "-people")], "positive weight"),
    ],
)
def test_bad_builder_parameters(indexed: TestClient, params: list, message: str) -> None:
    r = indexed.get("/search", params=params, headers=HX)
    assert r.status_code == 400 and message in r.text


def test_similar_balance_modes(indexed: TestClient, svc: StyleSeek, lib: Path) -> None:
    row = svc.catalog.get_by_path(str(lib / "img001.jpg"))
    style = indexed.get("/similar", params={"id": row.id, "balance": "1", "k": "5"}, headers=HX)
    assert style.status_code == 200 and "similar in style" in style.text
    assert 'data-model="content"' not in style.text and 'data-model="texture"' in style.text
    assert indexed.get("/similar", params={"id": row.id, "balance": "2"}, headers=HX).status_code == 400


def test_without_style_models_the_ui_says_style_search_is_unavailable(settings, shared_encoder, lib: Path) -> None:  # noqa: ANN001
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    svc.index_folders([lib])
    c = TestClient(create_app(settings, services=svc), base_url="http://127.0.0.1", raise_server_exceptions=False)
    row = c.get("/term_row", headers=HX).text
    assert '<option value="style" disabled>' in row
    page = c.get("/", params=[("q", "red"), ("text", "oil"), ("target", "content"), ("weight", "0.5")])
    assert page.status_code == 200 and "Style search is unavailable" in page.text
    r = c.get("/search", params={"q": "red, style: van gogh"}, headers=HX)
    assert r.status_code == 400 and "style search is unavailable" in r.text
    first = svc.catalog.get_by_path(str(lib / "img001.jpg")).id
    modal = c.get("/preview", params={"id": first}, headers=HX).text
    assert 'id="find-similar"' in modal and 'id="find-similar-style"' not in modal
    assert c.get("/similar", params={"id": first, "balance": "1"}, headers=HX).status_code == 400


def test_location_terms_in_the_ui(client: TestClient, svc: StyleSeek, tmp_path: Path) -> None:
    from tests.imagegen import pattern, save_jpeg

    lib = tmp_path / "places"
    save_jpeg(lib / "paris.jpg", pattern(60, 40, 1), gps=(48.8566, 2.3522, None))
    save_jpeg(lib / "tokyo.jpg", pattern(60, 40, 2), gps=(35.6762, 139.6503, None))
    svc.index_folders([lib])
    r = client.get("/search", params={"q": "garden scene in France"}, headers=HX)
    assert r.status_code == 200
    assert "garden scene, in: France" in r.text  # what the parser understood
    assert "in France → France (country)" in r.text and 'data-model="location"' in r.text
    r = client.get("/search", params=[("text", "Paris"), ("target", "location"), ("weight", "1")], headers=HX)
    assert r.status_code == 200 and "Paris (Île-de-France, FR), 15 km" in r.text and "also:" in r.text
    assert r.text.count('class="result-card') == 1
    r = client.get("/search", params={"q": "in: Atlantis Under The Sea"}, headers=HX)
    assert r.status_code == 400 and "unknown place" in r.text
    assert '<option value="location">' in client.get("/term_row", headers=HX).text


def _alternative_links(html: str) -> dict[str, str]:
    return {a["data-place"]: a["href"] for a in BeautifulSoup(html, "html.parser").select("a.place-alternative")}


def test_the_other_places_of_a_name_can_be_picked(client: TestClient, svc: StyleSeek, tmp_path: Path) -> None:
    from tests.imagegen import pattern, save_jpeg

    lib = tmp_path / "two-parises"
    save_jpeg(lib / "paris-fr.jpg", pattern(60, 40, 1), gps=(48.8566, 2.3522, None))
    save_jpeg(lib / "paris-tx.jpg", pattern(60, 40, 2), gps=(33.6609, -95.5555, None))
    svc.index_folders([lib])
    # from the one-line query: the link keeps the other terms and options, and points the term elsewhere
    r = client.get("/search", params={"q": "red, near Paris 20km", "k": "12", "sort": "date"}, headers=HX)
    assert r.status_code == 200
    cards = [c["aria-label"] for c in BeautifulSoup(r.text, "html.parser").select(".result-card")]
    assert cards[0].startswith("Open paris-fr.jpg in Paris")  # the card says where it was taken
    links = _alternative_links(r.text)
    assert "Paris (Texas, US)" in links
    page = client.get(links["Paris (Texas, US)"])
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("#q")["value"] == "red, near: Paris (Texas, US) 20km"
    assert soup.select_one('select[name="k"] option[selected]')["value"] == "12"
    assert "Paris (Texas, US), 20 km" in page.text  # understood as the Texan town
    cards = [c["aria-label"] for c in soup.select(".result-card")]
    assert cards[0].startswith("Open paris-tx.jpg in Paris, Texas")
    # from a builder row: the row's text changes, the one-line query stays
    params = [("q", "red"), ("text", "in Paris"), ("target", "location"), ("weight", "0.5")]
    links = _alternative_links(client.get("/search", params=params, headers=HX).text)
    soup = BeautifulSoup(client.get(links["Paris (Texas, US)"]).text, "html.parser")
    assert soup.select_one("#q")["value"] == "red"
    row = soup.select_one("#terms .term-row")
    assert row.select_one('input[name="text"]')["value"] == "in Paris (Texas, US)"
    assert row.select_one('input[name="weight"]')["value"] == "0.5"


def test_filters_and_nearby_in_the_ui(indexed: TestClient, svc: StyleSeek, lib: Path) -> None:
    zurich = svc.catalog.get_by_path(str(lib / "img001.jpg"))  # the collection's JPEGs 1, 5, 9 have Zurich GPS
    modal = indexed.get("/preview", params={"id": zurich.id}, headers=HX).text
    assert 'id="find-similar-nearby"' in modal and "within_km=25" in modal
    near = indexed.get("/similar", params={"id": zurich.id, "within_km": "25", "balance": "0.5"}, headers=HX)
    assert near.status_code == 200 and "within 25 km" in near.text
    got = {int(x) for x in __import__("re").findall(r'data-id="(\d+)"', near.text)}
    expect = {svc.catalog.get_by_path(str(lib / f"img{i:03d}.jpg")).id for i in (5, 9)}
    assert got == expect
    assert indexed.get("/similar", params={"id": zurich.id, "within_km": "x"}, headers=HX).status_code == 400
    r = indexed.get("/search", params={"q": "red", "taken_from": "2021-07-01", "camera": "eos"}, headers=HX)
    assert r.status_code == 200 and r.text.count('class="result-card') == 3  # the dated Canon JPEGs
    r = indexed.get("/search", params={"q": "red", "taken_from": "yesterday"}, headers=HX)
    assert r.status_code == 400 and "must be a date" in r.text
    r = indexed.get("/search", params={"q": "red, in: Switzerland", "unplaced": "drop"}, headers=HX)
    assert r.text.count('class="result-card') == 3
    g = indexed.get("/search", params={"q": "red", "group": "place", "k": "10"}, headers=HX)
    assert g.text.count(" place-group") == 2  # Zurich, and no place
    assert "No place · 7" in g.text
    m = indexed.get("/search", params={"q": "red", "map": "1", "k": "10"}, headers=HX)
    assert 'id="map-svg"' in m.text and m.text.count('class="map-marker') == 3  # the three with GPS
    assert "3 of 10 results have a GPS position" in m.text and ' d="M' in m.text


def test_suggest_panel(indexed: TestClient) -> None:
    r = indexed.get("/suggest", params={"q": "impressionist paintings of people at the beach"}, headers=HX)
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "html.parser")
    panel = soup.select_one("#suggestions")
    assert panel.select_one("#suggest-engine")["data-engine"] == "rules"
    rows = panel.select("#suggestion-rows .term-row")
    got = [
        (
            row.select_one('input[name="text"]')["value"],
            row.select_one('select[name="target"] option[selected]')["value"],
            row.select_one('input[name="weight"]')["value"],
        )
        for row in rows
    ]
    assert got == [
        ("people at the beach", "content", "1"),
        ("impressionist painting", "style", "0.9"),
        ("loose visible brushwork", "style", "0.6"),
    ]
    assert all(row.select_one(".accept-term") for row in rows) and panel.select_one("#use-all")
    assert panel.select_one("#suggest-description")["value"] == "impressionist paintings of people at the beach"
    assert "models download --llm" in panel.select_one(".suggest-note").text  # how to get the LLM
    # more like these results: the current search's top results are tagged and their tags join
    r = indexed.get("/suggest", params={"more": "1", "q": "red", "description": "paintings of a sunny day"}, headers=HX)
    assert r.status_code == 200 and "current results look like" in r.text
    r = indexed.get("/suggest", params={"q": "   "}, headers=HX)
    assert r.status_code == 400 and "describe the pictures" in r.text
    r = indexed.get("/suggest", params={"more": "1", "description": "x y"}, headers=HX)
    assert r.status_code == 400 and "search first" in r.text
    assert 'id="suggest-button"' in indexed.get("/").text and 'id="suggestions"' in indexed.get("/").text


def test_builder_rows_say_how_their_place_was_understood(client: TestClient) -> None:
    r = client.get("/place_label", params={"text": "near Zurich 20km", "target": "location", "weight": "1"}, headers=HX)
    assert r.status_code == 200 and "Zürich, CH, 20 km" in r.text and 'data-error=""' in r.text
    r = client.get("/place_label", params={"text": "in Paris", "target": "location"}, headers=HX)
    assert "Paris (Île-de-France, FR), 15 km" in r.text and "also: Paris (Texas, US)" in r.text
    r = client.get("/place_label", params={"text": "in Atlantis Under The Sea", "target": "location"}, headers=HX)
    assert r.status_code == 200 and "unknown place" in r.text and 'data-error="1"' in r.text
    r = client.get("/place_label", params={"text": "red boat", "target": "content"}, headers=HX)
    assert r.status_code == 200 and "hidden" in r.text
    row = client.get("/", params=[("text", "Zurich"), ("target", "location"), ("weight", "1")]).text
    soup = BeautifulSoup(row, "html.parser").select_one("#terms .term-row")
    assert soup["hx-trigger"] == "load, change" and soup["hx-get"] == "/place_label"


def test_home_is_the_library_as_a_timeline(settings, shared_encoder, tmp_path: Path) -> None:  # noqa: ANN001
    """No query: the newest pictures first under day headings, 60 a page, the next page asked for by a sentinel;
    a day that goes on into the next page gets no second heading; undated pictures come last."""
    import re
    from datetime import date, timedelta

    lib = tmp_path / "years"
    for i in range(125):  # from 2023-06-30 back: one picture that day, then five a day; the last 5 undated
        d = date(2023, 6, 30) - timedelta(days=(i + 4) // 5)
        taken = f"{d:%Y:%m:%d} {10 + i % 2}:00:00" if i < 120 else None
        save_jpeg(lib / f"p{i:03d}.jpg", pattern(40, 30, i), **({"taken": taken} if taken else {}))
    svc = StyleSeek(settings, content_encoder=shared_encoder, style_encoders={})
    svc.index_folders([lib])
    client = TestClient(create_app(settings, services=svc), base_url="http://127.0.0.1")

    def days(html: str) -> list[str]:
        return re.findall(r'data-day="([^"]*)"', html)

    def next_url(html: str) -> str:
        return re.search(r'hx-get="(/timeline\?after=[^"]+)"', html).group(1).replace("&amp;", "&")

    home = client.get("/").text
    assert "Your pictures · 125" in home and home.count('class="result-card') == 60
    assert days(home)[0] == "2023-06-30" and days(home) == sorted(days(home), reverse=True)
    assert len(days(home)) == 13 and days(home)[-1] == "2023-06-18" and "Friday, 30 June 2023" in home
    page2 = client.get(next_url(home), headers=HX).text
    assert page2.count('class="result-card') == 60
    assert "2023-06-18" not in days(page2) and days(page2)[0] == "2023-06-17"  # the split day: one heading
    ids = [re.findall(r'data-id="(\d+)"', h) for h in (home, page2)]
    assert not set(ids[0]) & set(ids[1])  # no picture twice
    last = client.get(next_url(page2)).text
    assert last.count('class="result-card') == 5 and days(last) == [""] and "No date" in last
    assert "more-pictures" not in last  # the end: no more sentinel
    assert client.get("/timeline", params={"after": "garbage"}).status_code == 400


def test_a_sparse_month_on_the_timeline_gets_one_month_heading() -> None:
    """A month with a picture every few days is one heading, not a column of one-picture days; a busy month
    keeps its days; a month continued from the page before keeps the heading it had."""
    from fasthtml.common import Div, to_xml

    from ui.timeline import TimelinePage, day_heading, heading_keys

    busy = [{"id": i, "path": f"/p/{i}.jpg", "taken_at": f"2024-09-0{1 + i // 5}T10:00:00"} for i in range(10)]
    sparse = [{"id": 10 + i, "path": f"/p/s{i}.jpg", "taken_at": f"2024-08-{2 + 3 * i:02d}T10:00:00"} for i in range(5)]
    keys = heading_keys(busy + sparse)
    assert keys[:10] == ["2024-09-01"] * 5 + ["2024-09-02"] * 5 and set(keys[10:]) == {"2024-08"}
    assert day_heading("2024-08") == "August 2024" and day_heading("2024-09-01") == "Sunday, 1 September 2024"
    assert day_heading("") == "No date"
    html = to_xml(Div(*TimelinePage(sparse, "", last_day="2024-08")))
    assert "day-heading" not in html  # August went on from the page before


def test_no_results_says_what_removed_them_with_a_way_back(indexed: TestClient) -> None:
    params = {"q": "a sunset", "k": "6", "taken_from": "2099", "camera": "Leica"}
    r = indexed.get("/search", params=params, headers=HX)
    assert r.status_code == 200 and r.text.count('class="result-card') == 0
    soup = BeautifulSoup(r.text, "html.parser")
    # neither filter alone brings anything back (the pictures are undated and have no camera): both together do
    assert "the filters together removed all 6 that match “a sunset”" in soup.select_one(".why-empty").text
    back = soup.select_one("a.relax")["href"]
    assert "taken_from" not in back and "camera" not in back and "q=a+sunset" in back
    assert indexed.get(back).text.count('class="result-card') == 6
    # one filter: it is named; a place that holds nothing says so
    r = indexed.get("/search", params={"q": "a sunset", "camera": "Leica"}, headers=HX)
    assert "the camera filter “Leica” removed all" in r.text
    r = indexed.get("/search", params={"q": "only in: Peru"}, headers=HX)
    assert "No indexed picture was taken where" in r.text


def test_the_viewer_image_is_a_cached_rendition_made_once(indexed: TestClient, svc: StyleSeek, lib: Path) -> None:
    row = svc.catalog.get_by_path(str(lib / "img001.jpg"))
    first = indexed.get(f"/full/{row.id}").content
    cached = svc.thumbs.rendition_path(row.hash, svc.settings.preview_size)
    assert cached.read_bytes() == first
    cached.write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 50)  # a torn rendition, as after a crash mid-write
    assert indexed.get(f"/full/{row.id}").content == first and cached.read_bytes() == first  # redone, not served
    (lib / "img001.jpg").unlink()
    svc.index_folders([lib])  # the picture left the library: its rendition goes with its thumbnail
    assert not cached.exists() and not svc.thumbs.path(row.hash).exists()


def test_search_by_a_dropped_picture_and_by_pictures_for_and_against(
    indexed: TestClient, svc: StyleSeek, lib: Path, tmp_path: Path
) -> None:
    from tests.imagegen import pattern, save_jpeg

    outside = tmp_path / "phone" / "IMG_9000.jpg"  # a picture that is not in the library
    save_jpeg(outside, pattern(300, 200, 3))
    files_before = sorted(svc.settings.resolved_data_dir.rglob("*"))
    r = indexed.post("/picture", files={"file": ("IMG_9000.jpg", outside.read_bytes(), "image/jpeg")})
    assert r.status_code == 200
    ref = r.json()["ref"]
    assert ref.startswith("@") and len(ref) == 17
    assert sorted(svc.settings.resolved_data_dir.rglob("*")) == files_before  # its vectors kept, no file of it
    r = indexed.get("/search", params={"q": f"like: {ref}", "k": "5"}, headers=HX)
    assert r.status_code == 200 and r.text.count('class="result-card') == 5 and 'data-ref="' + ref in r.text
    # a link naming it still works after a restart (the app anew on the same data folder)
    again = StyleSeek(svc.settings, content_encoder=svc.encoder, style_encoders=svc.style_encoders)
    before = [(h.image.id, h.score) for h in svc.search(f"like: {ref}", k=5)]
    assert [(h.image.id, h.score) for h in again.search(f"like: {ref}", k=5)] == before
    # results as examples: three for, one against; the examples themselves are not among the results
    picks = [r["id"] for r in svc.timeline(limit=4)[0]]
    q = ", ".join([f"like: #{i}" for i in picks[:3]] + [f"unlike: #{picks[3]}"])
    r = indexed.get("/search", params={"q": q, "k": "6"}, headers=HX)
    soup = BeautifulSoup(r.text, "html.parser")
    got = {int(c["data-id"]) for c in soup.select(".result-card")}
    assert len(got) == 6 and not got & set(picks)
    assert [n["data-ref"] for n in soup.select(".picture-term")] == [f"#{i}" for i in picks]
    hits = svc.search(q, k=6)
    assert [h.image.id for h in hits] == [int(c["data-id"]) for c in soup.select(".result-card")]
    assert {p[0] for p in hits[0].parts} == {f"like #{i}" for i in picks[:3]} | {f"unlike #{picks[3]}"}
    # the slider to content: the pictures are searched by their content alone, and the viewer says so
    r = indexed.get("/search", params={"q": q, "k": "6", "balance": "0"}, headers=HX)
    soup = BeautifulSoup(r.text, "html.parser")
    hits = svc.search(q, k=6, picture_balance=0.0)
    assert [h.image.id for h in hits] == [int(c["data-id"]) for c in soup.select(".result-card")]
    assert {p[1] for p in hits[0].parts} == {"content"}
    assert {p[1] for p in svc.search(q, k=6)[0].parts} > {"content"}  # half each at the default balance
    card = soup.select(".result-card")[0]["hx-get"]
    assert card.endswith("&balance=0")
    table = BeautifulSoup(indexed.get(card, headers=HX).text, "html.parser").select_one("#breakdown")
    models = {tr.select("td")[1].text for tr in table.select("tbody tr")}
    assert models == {MODEL_NAMES["content"]}
    # bad input: not a picture, no file, an unknown id
    bad = indexed.post("/picture", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert bad.status_code == 400 and "cannot search by notes.txt" in bad.text
    assert indexed.post("/picture", data={"x": "1"}).status_code == 400
    assert "is not indexed" in indexed.get("/search", params={"q": "like: #99999"}, headers=HX).text
    # a selected result as a builder row, and as a row in a search
    row = indexed.get("/term_row", params={"text": f"#{picks[0]}", "target": "image", "weight": "-1"}, headers=HX)
    assert f'src="/thumb/{picks[0]}"' in row.text and 'value="image" selected' in row.text and "negative" in row.text
    params = [("q", ""), ("text", f"#{picks[0]}"), ("target", "image"), ("weight", "1")]
    r = indexed.get("/search", params=params, headers=HX)
    assert r.status_code == 200 and f'data-ref="#{picks[0]}"' in r.text
    assert indexed.get("/term_row", params={"text": "cat", "target": "image"}, headers=HX).status_code == 400


def test_a_folder_can_be_removed_and_a_stopped_one_resumed(
    indexed: TestClient, svc: StyleSeek, lib: Path, tmp_path: Path
) -> None:
    import threading

    from indexing.progress import Progress
    from tests.imagegen import make_collection

    other = tmp_path / "other"
    make_collection(other, 12, size=(120, 90))  # other pictures than those of lib (no shared thumbnails)
    # a run cancelled after its first pictures leaves the folder partly indexed; the panel says so, offers Resume
    cancel, progress = threading.Event(), Progress()
    progress.listen(lambda s: cancel.set() if s.indexed else None)
    report = svc.index_folders([other], progress, cancel)
    assert report.cancelled and 0 < report.indexed < 12
    folders = {f["path"]: f for f in svc.folders()}
    assert folders[str(lib)]["state"] == "complete" and folders[str(other)]["state"] == "partial"
    html = indexed.get("/folders").text
    assert f"Resume {other}" in html and f"Update {lib}" in html
    svc.index_folders([other])
    assert {f["path"]: f["state"] for f in svc.folders()}[str(other)] == "complete"
    # the failed files of a folder, listed with why
    lib_id = folders[str(lib)]["id"]
    errors = indexed.get("/folder_errors", params={"id": lib_id}).text
    assert "zero.jpg" in errors and "empty file" in errors
    # remove: its pictures leave the catalog, the index, the caches; the files stay
    row = svc.catalog.get_by_path(str(lib / "img001.jpg"))
    thumb = svc.thumbs.path(row.hash)
    assert (
        thumb.exists()
        and indexed.get("/search", params={"q": "a sunset", "k": "48"}, headers=HX).text.count('class="result-card')
        == 22
    )
    r = indexed.post("/folder_remove", data={"id": str(lib_id)}, headers=HX)
    assert r.status_code == 200 and r.headers["HX-Trigger"] == "folders-changed"
    assert str(lib) not in r.text and str(other) in r.text
    assert svc.catalog.get(row.id) is None and svc.vector_index("content").reconstruct(row.id) is None
    assert not thumb.exists() and (lib / "img001.jpg").exists()
    hits = indexed.get("/search", params={"q": "a sunset", "k": "48"}, headers=HX).text
    assert hits.count('class="result-card') == 12 and str(lib) not in hits
    assert indexed.post("/folder_remove", data={"id": str(lib_id)}, headers=HX).status_code == 404


def test_a_date_in_the_search_box_is_a_filter_with_a_chip(svc: StyleSeek, client: TestClient, tmp_path: Path) -> None:
    from tests.imagegen import pattern, save_jpeg

    lib = tmp_path / "years"
    for i, when in enumerate(
        ["2023:07:02 10:00:00", "2023:07:30 23:30:00", "2023:08:01 09:00:00", "2021:12:25 12:00:00"]
    ):
        save_jpeg(lib / f"p{i}.jpg", pattern(64, 48, i), taken=when)
    svc.index_folders([lib])
    name = {svc.catalog.get_by_path(str(lib / f"p{i}.jpg")).id: f"p{i}" for i in range(4)}

    def shown(r) -> list[str]:  # noqa: ANN001
        return sorted(name[int(c["data-id"])] for c in BeautifulSoup(r.text, "html.parser").select(".result-card"))

    r = client.get("/search", params={"q": "beach july 2023", "k": "12"}, headers=HX)
    assert shown(r) == ["p0", "p1"]
    chip = BeautifulSoup(r.text, "html.parser").select_one(".date-chip")
    assert chip["data-label"] == "July 2023"
    back = chip.select_one("a")["href"]
    assert "q=beach&" in back and shown(client.get(back)) == ["p0", "p1", "p2", "p3"]
    # a date alone: the timeline of that span; the Taken fields and the typed date both hold
    assert shown(client.get("/search", params={"q": "christmas 2021"}, headers=HX)) == ["p3"]
    r = client.get("/search", params={"q": "summer 2023", "taken_from": "2023-07-15"}, headers=HX)
    assert shown(r) == ["p1", "p2"]
    # nothing in the span: said, with the way back
    r = client.get("/search", params={"q": "beach christmas 2022"}, headers=HX)
    assert "the date “christmas 2022” (Christmas 2022) removed all 4" in r.text
    # content words stay content
    r = client.get("/search", params={"q": "may flowers", "k": "12"}, headers=HX)
    assert shown(r) == ["p0", "p1", "p2", "p3"] and "date-chip" not in r.text


def test_the_map_zooms_to_the_results_and_clusters_split_as_it_zooms(
    svc: StyleSeek, client: TestClient, tmp_path: Path
) -> None:
    from tests.imagegen import pattern, save_jpeg

    spots = [(48.8584, 2.2945), (48.8606, 2.3376), (48.8530, 2.3499), (45.7640, 4.8357), (45.7700, 4.8300)]
    for i, (lat, lon) in enumerate(spots):  # three in Paris, within 4 km; two in Lyon
        save_jpeg(tmp_path / "trip" / f"t{i}.jpg", pattern(64, 48, i), gps=(lat, lon, None))
    save_jpeg(tmp_path / "trip" / "sydney.jpg", pattern(64, 48, 9), gps=(-33.8688, 151.2093, None))
    svc.index_folders([tmp_path / "trip"])
    r = client.get("/search", params={"q": "in: France", "map": "1"}, headers=HX)
    soup = BeautifulSoup(r.text, "html.parser")
    west, south, east, north = (float(v) for v in soup.select_one("#map-svg")["data-box"].split(","))
    assert 1.5 < west < 2.3 and 4.9 < east < 5.8 and 45.2 < south < 45.8 and 48.9 < north < 49.5  # France's results
    clusters = {int(c["data-count"]): c for c in soup.select(".map-cluster")}
    assert sorted(clusters) == [2, 3] and not soup.select(".map-marker")
    # a cluster zooms to its pictures, where they split into markers, each opening the viewer
    paris = BeautifulSoup(client.get(clusters[3]["hx-get"], headers=HX).text, "html.parser")
    assert len(paris.select(".map-marker")) == 3 and not paris.select(".map-cluster")
    assert all(m["hx-get"].startswith("/preview?id=") for m in paris.select(".map-marker"))
    # zoom out and fit all go back; a bad box is a 400
    wide = BeautifulSoup(client.get(paris.select_one(".map-out")["hx-get"], headers=HX).text, "html.parser")
    assert float(wide.select_one("#map-svg")["data-box"].split(",")[2]) - 2.2 > 0.1
    assert client.get("/map", params={"q": "in: France", "bbox": "10,0,5,1"}, headers=HX).status_code == 400
    # the whole world: Sydney far away, its own marker
    world = BeautifulSoup(client.get("/search", params={"q": "a photo", "map": "1"}, headers=HX).text, "html.parser")
    assert (
        len(world.select(".map-marker")) == 1 and sum(int(c["data-count"]) for c in world.select(".map-cluster")) == 5
    )
