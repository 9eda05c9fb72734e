"""A person's path through the UI in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from app import create_app
from services import StyleSeek
from tests.imagegen import make_collection, write_broken

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser


@pytest.fixture
def server(svc: StyleSeek) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(svc.settings, services=svc), host="127.0.0.1", port=port, log_level="warning")
    )
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    t.join(10)


@pytest.fixture
def page(output_dir: Path):  # noqa: ANN201
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}: run .ci/run or `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        pg = browser.new_page(viewport={"width": 1360, "height": 900})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))

        # a load the page itself cancelled (a navigation while lazy thumbnails were loading) is no failure
        def failed(r) -> None:  # noqa: ANN001
            if r.failure != "net::ERR_ABORTED":
                errors.append(f"request failed: {r.url} {r.failure}")

        pg.on("requestfailed", failed)
        yield pg
        browser.close()
        assert not errors, errors


def test_index_search_preview_and_find_similar(
    server: str,
    page,
    tmp_path: Path,  # noqa: ANN001
    output_dir: Path,
) -> None:
    lib = tmp_path / "photos"
    make_collection(lib, 18, size=(160, 120))
    write_broken(lib / "broken")
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server) else external.append(r.url))

    page.goto(server + "/")
    page.wait_for_selector("#search-form")
    page.fill("#path", str(lib))
    page.click("#index-btn")
    page.wait_for_selector("#index-bar")
    page.wait_for_selector('#index-state[data-state="done"]', timeout=60_000)
    stats = page.inner_text("#index-stats")
    assert "18 new" in stats and "4 failed" in stats
    page.locator(f"#folders li[data-path='{lib}']").wait_for()  # the folder list refreshed itself
    page.wait_for_selector("#count-indexed:has-text('18 images indexed')")  # and so did the counts
    page.screenshot(path=str(output_dir / "1-indexed.png"), full_page=True)

    page.fill("#q", "a red square in the corner")
    page.press("#q", "Enter")
    page.wait_for_selector("#results .result-card")
    assert page.locator("#results .result-card").count() == 18
    assert "q=a%20red%20square" in page.url  # the search is in the URL, so it can be bookmarked
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth)")
    page.screenshot(path=str(output_dir / "2-results.png"), full_page=True)

    before = page.locator("#results .result-card").evaluate_all("els => els.map(e => e.dataset.id)")

    # the term builder: add a style term and drag its weight slider; the ranking follows
    page.click("#term-builder summary")
    page.click("#add-term")
    row = page.locator("#terms .term-row").last
    row.locator("input[name=text]").fill("thick impasto oil painting")
    row.locator("select[name=target]").select_option("style")
    page.wait_for_selector("#results #legend")  # the change event ran the search: two models now
    slider = row.locator("input[name=weight]")
    box = slider.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 6, box["y"] + box["height"] / 2)  # the thumb sits at 1.0
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2, steps=8)
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    weight = float(slider.input_value())
    assert 0.5 < weight < 1.0, (weight, box)
    assert row.locator(".weight-value").inner_text() == f"{weight:.2f}"
    page.wait_for_function(
        "w => document.querySelector('#results h3').textContent.includes('style: thick impasto oil painting:' + w)",
        arg=f"{weight:g}",
    )
    after = page.locator("#results .result-card").evaluate_all("els => els.map(e => e.dataset.id)")
    assert sorted(after) == sorted(before) and after != before  # same images, new order
    positive = page.locator("#results .result-card").evaluate_all("els => els.filter(e => +e.dataset.score > 0).length")
    bars = page.locator("#results .contrib-bar")
    assert bars.count() >= positive > 0  # every hit with a positive score shows which models found it
    assert page.locator("#results .contrib-bar > div").count() >= bars.count()
    assert "tiny" not in page.url and "weight=" in page.url
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth)")
    page.screenshot(path=str(output_dir / "2b-style-term.png"), full_page=True)

    first = page.locator("#results .result-card").first
    first_id = first.get_attribute("data-id")
    first.click()
    modal = page.locator("#preview-modal")
    modal.wait_for(state="visible")
    page.wait_for_function(
        "document.querySelector('#preview-img')?.complete && document.querySelector('#preview-img').naturalWidth > 0"
    )
    assert "File" in modal.inner_text() and "Why it matched" in modal.inner_text()
    assert page.locator("#breakdown tbody tr").count() == 2
    page.wait_for_timeout(400)  # let the fade-in finish before the screenshot
    page.screenshot(path=str(output_dir / "3-modal.png"))

    page.click("#find-similar")
    page.wait_for_selector("#results h3:has-text('similar to')")
    modal.wait_for(state="hidden")
    ids = page.locator("#results .result-card").evaluate_all("els => els.map(e => e.dataset.id)")
    assert first_id not in ids and len(ids) == 17
    page.wait_for_function("document.getElementById('q')?.value === ''")  # similar to a picture: no text query
    page.screenshot(path=str(output_dir / "4-similar.png"), full_page=True)
    # Back: the results before, and the query that made them back in the box
    page.go_back()
    page.wait_for_selector("#results h3:has-text('a red square')")
    page.wait_for_function("document.getElementById('q')?.value === 'a red square in the corner'")
    assert "similar" not in page.url and "view=" not in page.url

    # a place in the query: only the pictures taken there (the JPEGs with Zurich GPS), and what was understood
    page.locator("#terms .remove-term").first.click()  # drop the style term from the builder
    page.wait_for_function("!document.querySelector('#results h3').textContent.includes('impasto')")
    page.fill("#q", "in: Switzerland")
    page.press("#q", "Enter")
    page.wait_for_selector("#results .place-note")
    assert "Switzerland (country)" in page.inner_text("#results .place-note")
    shown = page.locator("#results .result-card").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert shown and all(s.startswith("Open ") and ".jpg" in s for s in shown) and len(shown) == 5, shown
    page.screenshot(path=str(output_dir / "4b-in-switzerland.png"), full_page=True)

    # the map of the current results, zoomed to them: the five were taken at one spot, so at the closest zoom
    # they are spread around it; zoomed out they are a cluster with a count, and a click on it zooms back in
    page.check("#show-map")
    page.wait_for_selector("#results #map-svg .map-spread")
    assert page.locator("#results .map-marker").count() == 5
    page.click("#results .map-out")
    page.wait_for_selector("#results #map-svg .map-cluster")
    assert page.locator("#results .map-cluster").get_attribute("data-count") == "5"
    assert page.locator("#results .map-marker").count() == 0
    page.screenshot(path=str(output_dir / "4c-map-cluster.png"), full_page=True)
    page.locator("#results .map-cluster").click()
    page.wait_for_selector("#results #map-svg .map-spread")
    assert page.locator("#results .map-marker").count() == 5
    page.screenshot(path=str(output_dir / "4d-map-spread.png"), full_page=True)
    page.locator("#results .map-marker").first.click()
    page.locator("#preview-modal").wait_for(state="visible")
    assert "Zurich, CH" in page.inner_text("#preview-modal")
    page.keyboard.press("Escape")
    page.locator("#preview-modal").wait_for(state="detached")
    page.uncheck("#show-map")
    page.wait_for_function("!document.querySelector('#results #map-svg')")

    # an ambiguous name: the most populous Paris, and a link to each other Paris that re-runs the search there
    page.fill("#q", "in: Paris")
    page.press("#q", "Enter")
    page.wait_for_selector("#results .place-alternative")
    assert "Paris (Île-de-France, FR), 15 km" in page.inner_text("#results .place-note")
    page.click("#results .place-alternative[data-place='Paris (Texas, US)']")
    page.wait_for_function("document.querySelector('#q')?.value === 'in: Paris (Texas, US)'")
    assert "Paris (Texas, US), 15 km" in page.inner_text("#results .place-note")
    assert page.locator("#results .result-card").count() == 0  # no picture here was taken in Texas
    page.screenshot(path=str(output_dir / "4d-other-paris.png"), full_page=True)

    # a bad request shows its message in the page instead of failing silently
    page.select_option("select[name=k]", "12")
    page.evaluate("document.querySelector('select[name=k]').innerHTML += '<option value=\"zz\">zz</option>'")
    page.select_option("select[name=k]", "zz")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#error-slot >> text=k must be a whole number")
    page.screenshot(path=str(output_dir / "5-error.png"))
    assert not external, external


def test_suggest_edit_and_search(server: str, page, svc: StyleSeek, tmp_path: Path, output_dir: Path) -> None:  # noqa: ANN001
    make_collection(tmp_path / "pics", 8, size=(120, 90))
    svc.index_folders([tmp_path / "pics"])
    page.goto(server + "/")
    page.fill("#q", "impressionist paintings of people at the beach")
    page.click("#suggest-button")
    page.wait_for_selector("#suggestion-rows .term-row")
    rows = page.locator("#suggestion-rows .term-row")
    assert rows.count() == 3
    assert page.inner_text("#suggest-engine") == "the rule-based suggester"
    texts = rows.locator("input[name=text]").evaluate_all("els => els.map(e => e.value)")
    assert texts == ["people at the beach", "impressionist painting", "loose visible brushwork"]
    page.screenshot(path=str(output_dir / "6-suggestions.png"), full_page=True)

    # edit a weight by dragging its slider, and remove a row
    slider = rows.nth(1).locator("input[name=weight]")
    box = slider.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.95 - 4, box["y"] + box["height"] / 2)  # the thumb sits at 0.9
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    weight = float(slider.input_value())
    assert 0.2 < weight < 0.8, weight
    rows.nth(2).locator(".remove-term").click()
    assert page.locator("#suggestion-rows .term-row").count() == 2

    # use them all: they move into the builder, the description leaves the search box, and the search runs
    page.click("#use-all")
    page.wait_for_function("document.querySelectorAll('#terms .term-row').length === 2")
    # (typing the description already ran a search for it: wait for the one with the terms)
    page.wait_for_function(
        "t => document.querySelector('#results h3').textContent.includes(t)",
        arg=f"people at the beach, style: impressionist painting:{weight:g}",
    )
    assert page.locator("#results .result-card").count() == 8
    assert page.input_value("#q") == "" and page.locator("#suggestions > *").count() == 0
    assert page.locator("#suggestions").get_attribute("class") is None  # no empty frame left behind
    assert page.locator("#terms .accept-term").count() == 0
    page.screenshot(path=str(output_dir / "7-suggestions-used.png"), full_page=True)

    # ask again, looking at the results too; accept one row on its own
    page.fill("#q", "sunny day")
    page.click("#suggest-button")
    page.wait_for_selector("#suggestion-rows .term-row")
    page.click("#more-like")
    page.wait_for_selector(".suggest-note:has-text('current results look like')")
    n = page.locator("#terms .term-row").count()
    page.locator("#suggestion-rows .accept-term").first.click()
    page.wait_for_function(f"document.querySelectorAll('#terms .term-row').length === {n + 1}")
    page.screenshot(path=str(output_dir / "8-more-like.png"), full_page=True)

    # a location row in the builder says which place it understood, and says so again after an edit
    n = page.locator("#terms .term-row").count()
    page.click("#add-term")
    page.wait_for_function(f"document.querySelectorAll('#terms .term-row').length === {n + 1}")
    row = page.locator("#terms .term-row").last
    row.locator("select[name=target]").select_option("location")
    row.locator("input[name=text]").fill("near Zurich 20km")
    row.locator("input[name=text]").dispatch_event("change")
    page.wait_for_function(
        "document.querySelector('#terms .term-row:last-child .place-label').textContent.includes('Zürich, CH, 20 km')"
    )
    row.locator("input[name=text]").fill("in Atlantis Under The Sea")
    row.locator("input[name=text]").dispatch_event("change")
    page.wait_for_selector("#terms .term-row:last-child .place-label[data-error='1']")
    page.screenshot(path=str(output_dir / "9-place-label.png"), full_page=True)


def test_a_slow_suggestion_shows_progress_then_falls_back(
    server: str, page, svc: StyleSeek, tmp_path: Path, output_dir: Path
) -> None:  # noqa: ANN001, E501
    from models.tiny import write_random_llm

    gguf = write_random_llm(tmp_path / "m")

    class SlowModel:  # stands in for a large model on a small machine: it answers after the time limit
        path = gguf

        def chat_json(self, *args: object, **kw: object) -> tuple:
            time.sleep(4)
            return {"terms": [{"text": "too late", "target": "content", "weight": 1}]}, "stop"

    svc.settings.llm = str(gguf)
    svc.settings.llm_timeout_s = 1.5
    svc.suggester._llm = SlowModel()
    page.goto(server + "/")
    page.fill("#q", "cubist portrait")
    page.click("#suggest-button")
    page.wait_for_selector("#suggest-progress.htmx-request")  # the progress line shows, and counts
    page.wait_for_function("document.getElementById('suggest-elapsed').textContent === '1 s'")
    assert page.is_disabled("#suggest-button")  # no second request while the first runs
    page.screenshot(path=str(output_dir / "10-suggest-progress.png"))
    page.wait_for_selector("#suggestion-rows .term-row", timeout=10_000)
    assert page.inner_text("#suggest-engine") == "the rule-based suggester"
    assert "did not answer within 1.5 s" in page.inner_text("#suggestions")
    assert not page.is_visible("#suggest-progress")
    page.screenshot(path=str(output_dir / "11-suggest-fallback.png"))


def test_a_phone_and_a_camera_folder_in_the_browser(
    server: str,
    page,  # noqa: ANN001
    tmp_path: Path,
    output_dir: Path,
) -> None:
    """What a person copies off an iPhone and a camera: a portrait HEIC (container rotation + EXIF 6) with
    its Live Photo movie and edit file, a RAW+JPEG pair with a darktable sidecar, a CMYK JPEG. Indexed from
    the Library panel; the grid and the viewer show the portrait upright, at a desktop and a phone width."""
    from tests import realfiles as rf

    lib = tmp_path / "DCIM"
    lib.mkdir()
    up = rf.scene(tmp_path / "upright.png")
    heic = rf.heic_like_a_phone(up, 6, lib / "IMG_0001.HEIC")
    rf.exif(heic, "-DateTimeOriginal=2024:06:01 18:30:00", "-OffsetTimeOriginal=+02:00", "-GPSLatitude=48.8584",
            "-GPSLatitudeRef=N", "-GPSLongitude=2.2945", "-GPSLongitudeRef=E")  # fmt: skip
    shutil.copy(rf.CAMERA / "QuickTime.mov", lib / "IMG_0001.MOV")
    shutil.copy(rf.CAMERA / "PLIST.aae", lib / "IMG_0001.AAE")
    rf.dng(up, lib / "DSC_0002.dng")
    rf.run("convert", up, lib / "DSC_0002.JPG")
    rf.run("exiftool", "-q", "-XMP-xmp:Rating=4", "-o", lib / "DSC_0002.dng.xmp")
    rf.run("convert", up, "-colorspace", "CMYK", lib / "print.jpg")

    page.goto(server + "/")
    page.fill("#path", str(lib))
    page.click("#index-btn")
    page.wait_for_selector('#index-state[data-state="done"]', timeout=60_000)
    stats = page.inner_text("#index-stats")
    assert "3 new" in stats and "0 failed" in stats and "3 not pictures, skipped" in stats, stats

    page.fill("#q", "a photo")
    page.press("#q", "Enter")
    page.wait_for_selector("#results .result-card")
    assert page.locator("#results .result-card").count() == 3
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth)")
    # every thumbnail in the grid is the upright portrait: taller than wide, red top-left, green top-right
    corners = """img => { const c = document.createElement('canvas'); c.width = img.naturalWidth;
        c.height = img.naturalHeight; const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const at = (x, y) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3));
        return {w: img.naturalWidth, h: img.naturalHeight, tl: at(4, 4), tr: at(img.naturalWidth - 5, 4)}; }"""
    for shot in page.locator("#results .result-card img").evaluate_all(f"imgs => imgs.map({corners})"):
        assert shot["h"] > shot["w"], shot
        assert shot["tl"][0] > 200 and shot["tl"][1] < 80, shot
        assert shot["tr"][1] > 200 and shot["tr"][0] < 80, shot
    page.screenshot(path=str(output_dir / "7-phone-folder.png"), full_page=True)

    page.locator("#results .result-card", has=page.locator("img[alt='IMG_0001.HEIC']")).click()
    modal = page.locator("#preview-modal")
    modal.wait_for(state="visible")
    page.wait_for_function(
        "document.querySelector('#preview-img')?.complete && document.querySelector('#preview-img').naturalWidth"
    )
    full = page.locator("#preview-img").evaluate(corners)
    assert full["h"] > full["w"] and full["tl"][0] > 200 and full["tr"][1] > 200, full
    text = modal.inner_text()
    assert "turned 90° clockwise (HEIF container)" in text and "(UTC+02:00)" in text and "Paris" in text
    page.wait_for_timeout(400)
    page.screenshot(path=str(output_dir / "8-phone-viewer.png"))

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.screenshot(path=str(output_dir / "9-phone-viewer-390.png"))
    page.keyboard.press("Escape")
    modal.wait_for(state="hidden")
    page.locator("#results .result-card", has=page.locator("img[alt='DSC_0002.JPG']")).click()
    modal.wait_for(state="visible")
    text = modal.inner_text()
    assert "DSC_0002.dng" in text and "★★★★☆" in text and "DSC_0002.dng.xmp" in text
    page.wait_for_timeout(400)
    page.screenshot(path=str(output_dir / "10-pair-viewer-390.png"))


def test_phone_layout_has_no_sideways_scroll_and_a_library_drawer(
    server: str,
    page,  # noqa: ANN001
    tmp_path: Path,
    output_dir: Path,
) -> None:
    """At 390 px: the query line is the page's width, options and rows wrap inside it, the results start on the
    first screen, and the Library opens as a drawer from the header (and indexes from there)."""
    make_collection(tmp_path / "phone", 10, size=(120, 90))
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/")
    assert page.locator("#library").is_hidden()  # the drawer is closed: the search comes first
    page.click(".library-toggle")
    page.wait_for_selector("#library.open")
    page.fill("#path", str(tmp_path / "phone"))
    page.click("#index-btn")
    page.wait_for_selector('#index-state[data-state="done"]', timeout=60_000)
    page.screenshot(path=str(output_dir / "12-phone-library-drawer.png"))
    page.click("#library-close")
    assert page.locator("#library").is_hidden()
    params = "q=red&text=people&target=content&weight=-0.6&text=van+gogh&target=style&weight=0.8&camera=eos"
    page.goto(server + "/?" + params)
    page.wait_for_selector("#results .result-card")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    assert page.locator("#q").bounding_box()["width"] >= 330
    for box in page.locator("#terms input[name=text]").evaluate_all("els => els.map(e => e.offsetWidth)"):
        assert box >= 300  # a term's text gets a line of its own
    assert "negative" in page.locator("#terms .term-row").first.get_attribute("class")
    page.wait_for_function("[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth)")
    page.screenshot(path=str(output_dir / "13-phone-options.png"), full_page=True)
    page.goto(server + "/?q=red")
    first = page.locator("#results .result-card").first.bounding_box()
    assert first["y"] < 600  # the first results on the first screen
    page.locator("#results .result-card").first.click()
    page.locator("#preview-modal").wait_for(state="visible")
    page.wait_for_timeout(400)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(output_dir / "14-phone-viewer.png"))
    # a tablet (768 px): no sideways scroll either, the Library still a drawer, the selection bar fits
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(server + "/?q=red")
    page.wait_for_selector("#results .result-card")
    assert page.locator("#library").is_hidden() and page.locator(".library-toggle").is_visible()
    page.locator("#results .pick").first.check(force=True)
    page.evaluate("styleseek.showPicks()")
    bar = page.locator("#selection-bar").bounding_box()
    assert bar["x"] >= 0 and bar["x"] + bar["width"] <= 768
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    page.screenshot(path=str(output_dir / "14b-tablet-768.png"))


def test_home_timeline_scrolls_into_older_pictures(
    server: str,
    page,  # noqa: ANN001
    svc: StyleSeek,
    tmp_path: Path,
    output_dir: Path,
) -> None:
    from datetime import date, timedelta

    from tests.imagegen import pattern, save_jpeg

    lib = tmp_path / "camera-roll"
    for i in range(130):
        d = date(2024, 8, 31) - timedelta(days=i // 4)
        save_jpeg(lib / f"IMG_{i:04d}.jpg", pattern(48, 36, i), taken=f"{d:%Y:%m:%d} 12:{i % 60:02d}:00")
    svc.index_folders([lib])
    page.goto(server + "/")
    page.wait_for_selector("#results .day-heading")
    assert page.locator("#results .result-card").count() == 60
    assert page.locator("#results .day-heading").first.inner_text() == "Saturday, 31 August 2024"
    # tiles fill their column (six across the results' width here), whatever the thumbnail's own size
    tile, grid = (page.locator(sel).first.bounding_box() for sel in ("#results .photo-tile", "#results .grid"))
    assert tile["width"] > grid["width"] / 6 - 10 and tile["height"] == pytest.approx(tile["width"], abs=1)
    page.screenshot(path=str(output_dir / "15-home-timeline.png"))
    for n in (120, 130):  # scrolling to the end asks for the next page, twice
        page.locator(".more-pictures").scroll_into_view_if_needed()
        page.wait_for_function(f"document.querySelectorAll('#results .result-card').length === {n}")
    assert page.locator(".more-pictures").count() == 0
    ids = page.locator("#results .result-card").evaluate_all("els => els.map(e => e.dataset.id)")
    assert len(set(ids)) == 130
    # pictures of the timeline are examples too: select a range, search for more like them
    page.locator("#results .card-wrap").nth(0).scroll_into_view_if_needed()
    page.locator("#results .card-wrap").nth(0).hover()
    page.locator("#results .pick").nth(0).click()
    page.locator("#results .pick").nth(2).click(modifiers=["Shift"])
    page.click("#like-selected")
    page.wait_for_function("document.querySelectorAll('#results .picture-term').length === 3")
    texts = page.locator("#terms input[name=text]").evaluate_all("els => els.map(e => e.value)")
    assert texts == [f"#{i}" for i in ids[:3]] and page.input_value("#q") == ""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/")
    page.wait_for_selector("#results .day-heading")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(output_dir / "16-home-timeline-390.png"))


def test_viewer_steps_with_arrows_buttons_and_swipe_and_gives_focus_back(
    server: str,
    page,  # noqa: ANN001
    svc: StyleSeek,
    tmp_path: Path,
    output_dir: Path,
) -> None:
    from tests.imagegen import pattern, save_jpeg

    lib = tmp_path / "roll"
    for i in range(6):
        save_jpeg(lib / f"IMG_{i:04d}.jpg", pattern(400, 300, i), taken=f"2024:05:0{i + 1} 10:00:00")
    svc.index_folders([lib])
    page.goto(server + "/")
    cards = page.locator("#results .result-card")
    cards.first.wait_for()
    ids = cards.evaluate_all("els => els.map(e => e.dataset.id)")
    cards.nth(1).click()
    dialog = page.locator("#preview-dialog")
    page.wait_for_function(f"document.querySelector('#preview-dialog')?.dataset.id === '{ids[1]}'")
    page.locator("#preview-modal").wait_for(state="visible")
    # the box has the picture's shape before the full image arrives; then the rendition replaces the thumbnail
    box = page.locator(".viewer-picture").bounding_box()
    assert box["width"] / box["height"] == pytest.approx(4 / 3, rel=0.02)
    page.wait_for_function("document.querySelector('#preview-img')?.src.includes('/full/')")
    page.wait_for_url(f"**/?view={ids[1]}")  # the address names the open picture
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"document.querySelector('#preview-dialog')?.dataset.id === '{ids[2]}'")
    page.wait_for_url(f"**/?view={ids[2]}")  # stepping rewrites the address, it adds no history entry
    page.click(".viewer-prev")
    page.wait_for_function(f"document.querySelector('#preview-dialog')?.dataset.id === '{ids[1]}'")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"document.querySelector('#preview-dialog')?.dataset.id === '{ids[0]}'")
    page.wait_for_function("document.querySelector('.viewer-prev')?.disabled")  # the first has no previous one
    assert page.locator(".viewer-prev").is_hidden()
    page.wait_for_timeout(400)
    page.screenshot(path=str(output_dir / "17-viewer-first.png"))
    # a swipe to the left on the picture (a phone's gesture) goes to the next one
    page.evaluate(
        """() => {
        const el = document.querySelector('.viewer-picture');
        const t = (x) => [new Touch({identifier: 1, target: el, clientX: x, clientY: 200})];
        el.dispatchEvent(new TouchEvent('touchstart', {touches: t(300), changedTouches: t(300), bubbles: true}));
        el.dispatchEvent(new TouchEvent('touchend', {touches: [], changedTouches: t(150), bubbles: true}));
    }"""
    )
    page.wait_for_function(f"document.querySelector('#preview-dialog')?.dataset.id === '{ids[1]}'")
    # Escape closes it; focus goes back to the picture's card, and the address forgets the picture
    page.keyboard.press("Escape")
    page.locator("#preview-modal").wait_for(state="detached")
    assert page.evaluate("document.activeElement.dataset.id") == ids[1]
    page.wait_for_function("!location.search.includes('view=')")
    # a shared link opens the picture; Back from an opened picture closes it and stays on the page
    page.goto(server + f"/?view={ids[3]}")
    page.locator("#preview-modal").wait_for(state="visible")
    assert dialog.get_attribute("data-id") == ids[3]
    # opened and focused, as a person sees it before pressing a key (an Escape during UIkit's opening transition
    # left the modal half-closed once in CI)
    page.wait_for_function("document.getElementById('preview-modal')?.contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.locator("#preview-modal").wait_for(state="detached")
    cards.nth(4).click()
    page.locator("#preview-modal").wait_for(state="visible")
    page.go_back()
    page.locator("#preview-modal").wait_for(state="detached")
    assert "view=" not in page.url and cards.count() == 6


def test_viewer_steps_on_into_the_timelines_next_page(
    server: str,
    page,  # noqa: ANN001
    svc: StyleSeek,
    tmp_path: Path,
    output_dir: Path,
) -> None:
    """At a phone's width, the viewer near the end of the timeline's first page brings the next page in (its
    loader is far below, behind the viewer) and steps on into it, to the very last picture."""
    from tests.imagegen import pattern, save_jpeg

    lib = tmp_path / "roll"
    for i in range(70):
        save_jpeg(lib / f"IMG_{i:04d}.jpg", pattern(48, 36, i), taken=f"2024:06:{1 + i // 3:02d} 09:{i % 60:02d}:00")
    svc.index_folders([lib])
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/")
    page.wait_for_selector("#results .day-heading")
    cards = page.locator("#results .result-card")
    first = cards.evaluate_all("els => els.map(e => e.dataset.id)")
    page.goto(server + f"/?view={first[56]}")  # a link to a picture near the end of the first page
    page.locator("#preview-modal").wait_for(state="visible")
    page.wait_for_function("document.activeElement.id === 'preview-modal'")  # not the search box: arrows step
    assert cards.count() == 60
    assert page.evaluate("document.querySelector('.more-pictures').getBoundingClientRect().top > innerHeight")

    def shown(i: int) -> str:
        page.wait_for_function(f"document.querySelector('#preview-dialog')?.dataset.id === '{ids[i]}'")
        return ids[i]

    ids = first
    shown(56)
    for i in (57, 58, 59):
        page.keyboard.press("ArrowRight")
        shown(i)
    page.wait_for_function("document.querySelectorAll('#results .result-card').length === 70")
    ids = cards.evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids[:60] == first and len(set(ids)) == 70  # the next page after the first, nothing twice
    page.click(".viewer-next")
    shown(60)  # the first picture of the page that came in while the viewer was open
    page.screenshot(path=str(output_dir / "17b-viewer-next-page-390.png"))
    for i in range(61, 70):
        page.keyboard.press("ArrowRight")
        shown(i)
    page.wait_for_function("document.querySelector('.viewer-next')?.disabled")  # the last of all
    page.keyboard.press("Escape")
    page.locator("#preview-modal").wait_for(state="detached")
    assert page.evaluate("document.activeElement.dataset.id") == ids[69] and cards.count() == 70


def test_search_results_go_on_as_they_scroll_and_in_the_viewer(
    server: str,
    page,  # noqa: ANN001
    svc: StyleSeek,
    tmp_path: Path,
    output_dir: Path,
) -> None:
    """A search's results: the next page comes as the list's end scrolls into view, and the viewer steps on past
    the last one loaded; a new search starts at the first page again."""
    from tests.imagegen import pattern, save_jpeg

    lib = tmp_path / "many"
    for i in range(30):
        save_jpeg(lib / f"p{i:02d}.jpg", pattern(64, 48, i))
    svc.index_folders([lib])
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: twelve results fill more than the screen
    page.goto(server + "/")
    page.fill("#q", "a red pattern")
    page.select_option("select[name=k]", "12")
    page.keyboard.press("Enter")
    cards = page.locator("#results .result-card")
    page.wait_for_function("document.querySelectorAll('#results .result-card').length === 12")
    first = cards.evaluate_all("els => els.map(e => e.dataset.id)")
    page.locator("#results .more-results").scroll_into_view_if_needed()
    page.wait_for_function("document.querySelectorAll('#results .result-card').length === 24")
    ids = cards.evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids[:12] == first and len(set(ids)) == 24
    page.screenshot(path=str(output_dir / "18b-results-second-page.png"))
    cards.nth(23).click()  # the last loaded: the viewer brings the third page in and steps on into it
    page.wait_for_function(f"document.querySelector('#preview-dialog')?.dataset.id === '{ids[23]}'")
    page.wait_for_function("document.activeElement.id === 'preview-modal'")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelectorAll('#results .result-card').length === 30")
    ids = cards.evaluate_all("els => els.map(e => e.dataset.id)")
    page.wait_for_function(f"document.querySelector('#preview-dialog')?.dataset.id === '{ids[24]}'")
    assert page.locator("#results .more-results").count() == 0  # all 30: the end
    page.keyboard.press("Escape")
    page.locator("#preview-modal").wait_for(state="detached")
    page.fill("#q", "a blue pattern")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('#results .result-card').length === 12")
    assert "pages=" not in page.url
    page.set_viewport_size({"width": 1280, "height": 800})  # at a desktop width the next pages fill the screen
    page.wait_for_timeout(1500)
    page.screenshot(path=str(output_dir / "18c-results-desktop.png"))


def test_search_by_a_dropped_picture_then_by_results_for_and_against(
    server: str,
    page,  # noqa: ANN001
    svc: StyleSeek,
    tmp_path: Path,
    output_dir: Path,
) -> None:
    import base64

    from tests.imagegen import pattern, save_jpeg

    lib = tmp_path / "photos"
    make_collection(lib, 14, size=(160, 120))
    svc.index_folders([lib])
    dropped = save_jpeg(tmp_path / "phone" / "IMG_5000.jpg", pattern(640, 480, 5))
    page.goto(server + "/")
    page.wait_for_selector("#results .result-card")
    # a file dragged from the desktop and dropped anywhere on the page
    page.evaluate(
        """([b64, name]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: 'image/jpeg'}));
        const at = document.querySelector('#results');
        at.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
        window.overlayShown = !document.getElementById('drop-overlay').hidden;
        at.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""",
        [base64.b64encode(dropped.read_bytes()).decode(), dropped.name],
    )
    assert page.evaluate("window.overlayShown")
    page.wait_for_selector("#results .picture-note")
    assert page.input_value("#q").startswith("like: @")
    assert page.locator("#results .result-card").count() == 14  # none of them is the dropped picture itself
    assert page.locator("#drop-overlay").is_hidden()
    page.screenshot(path=str(output_dir / "18-dropped-picture.png"))
    # select three results (one click, then shift-click the third: a range) and mark them as more like these
    boxes = page.locator("#results .pick")
    ids = page.locator("#results .result-card").evaluate_all("els => els.map(e => e.dataset.id)")
    page.locator("#results .card-wrap").nth(0).hover()
    boxes.nth(0).click()
    boxes.nth(2).click(modifiers=["Shift"])
    assert page.inner_text("#selection-count") == "3 selected"
    page.screenshot(path=str(output_dir / "19-three-selected.png"))
    page.click("#like-selected")
    page.wait_for_function("document.querySelectorAll('#results .picture-term').length === 4")  # and the dropped one
    assert page.locator("#selection-bar").is_hidden()
    liked = ids[:3]
    # then one as less like these
    now = page.locator("#results .result-card").evaluate_all("els => els.map(e => e.dataset.id)")
    assert not set(now) & set(liked)
    page.locator("#results .card-wrap").nth(0).hover()
    boxes.nth(0).click()
    page.click("#unlike-selected")
    page.wait_for_function("document.querySelectorAll('#results .picture-term').length === 5")
    # they are picture rows of the term builder (each with its thumbnail and weight slider); the box keeps
    # the dropped picture
    q = page.input_value("#q")
    assert q.startswith("like: @") and "#" not in q
    rows = page.locator("#terms .term-row")
    texts = rows.locator("input[name=text]").evaluate_all("els => els.map(e => e.value)")
    weights = rows.locator("input[name=weight]").evaluate_all("els => els.map(e => +e.value)")
    assert texts == [f"#{i}" for i in [*liked, now[0]]] and weights == [1, 1, 1, -1]
    assert rows.locator(".row-thumb").count() == 4 and "negative" in rows.nth(3).get_attribute("class")
    final = page.locator("#results .result-card").evaluate_all("els => els.map(e => e.dataset.id)")
    assert not set(final) & {*liked, now[0]}
    from search.query import Term, parse_query

    terms = parse_query(q) + [Term(t, "image", w) for t, w in zip(texts, weights, strict=True)]
    expected = [h.image.id for h in svc.search(terms, k=24)]
    assert [int(i) for i in final] == expected  # what the page shows is the engine's fused ranking
    page.screenshot(path=str(output_dir / "20-like-unlike.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_remove_a_folder_from_the_library(
    server: str,
    page,  # noqa: ANN001
    svc: StyleSeek,
    tmp_path: Path,
    output_dir: Path,
) -> None:
    keep, drop = tmp_path / "keep", tmp_path / "old-phone"
    make_collection(keep, 5, size=(120, 90))
    make_collection(drop, 7, size=(150, 100))
    write_broken(drop / "broken")
    svc.index_folders([keep, drop])
    page.goto(server + "/")
    page.wait_for_selector("#results .result-card")
    assert page.locator("#results .result-card").count() == 12
    row = page.locator(f"#folders li[data-path='{drop}']")
    assert "7 pictures" in row.inner_text() and "4 failed" in row.inner_text()
    row.locator(".folder-errors").click()  # the skipped files, and why
    page.wait_for_selector(f"#folders li[data-path='{drop}'] li:has-text('zero.jpg')")
    page.screenshot(path=str(output_dir / "21-library-folders.png"))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    row.locator(".folder-remove").click()
    page.wait_for_selector(f"#folders li[data-path='{drop}']", state="detached")
    assert "files themselves are not touched" in dialogs[0]
    page.wait_for_selector("#count-indexed:has-text('5 images indexed')")  # the counts refreshed themselves
    page.goto(server + "/")
    assert page.locator("#results .result-card").count() == 5 and (drop / "img001.jpg").exists()
    page.screenshot(path=str(output_dir / "22-folder-removed.png"))
