from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from tests.imagegen import make_collection, write_broken

RECORD_KEYS = {
    "id",
    "path",
    "status",
    "error",
    "format",
    "width",
    "height",
    "orientation",
    "orientation_applied",
    "taken_at",
    "taken_at_utc",
    "camera",
    "gps",
    "place",
    "rating",
    "title",
    "description",
    "keywords",
    "companions",
    "sidecars",
    "sources",
    "thumbnail",
    "notes",
}


@pytest.fixture
def env(tmp_path: Path, tiny_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STYLESEEK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STYLESEEK_MODELS_DIR", str(tiny_models))
    monkeypatch.setenv("STYLESEEK_DEVICE", "cpu")
    lib = tmp_path / "lib"
    make_collection(lib, 8)
    write_broken(lib / "bad")
    return lib


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.slow
def test_index_search_similar_info_status_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "index", str(env), "--json")
    assert rc == 0
    report = json.loads(out)
    assert (report["indexed"], report["failed"]) == (8, 4)

    rc, out, _ = run(capsys, "search", "a photo of a cat", "-k", "3", "--json")
    hits = json.loads(out)
    assert rc == 0 and len(hits) == 3
    assert set(hits[0]) == RECORD_KEYS | {"score", "match", "contributions"}
    assert hits[0]["match"] == 100.0 and all(0 <= h["match"] <= 100 for h in hits)
    assert set(hits[0]["contributions"]["models"]) == {"content"}
    assert all(h["status"] == "indexed" and Path(h["thumbnail"]).is_file() for h in hits)

    rc, out, _ = run(capsys, "similar", "--id", str(hits[0]["id"]), "-k", "2", "--json")
    assert rc == 0 and hits[0]["id"] not in [h["id"] for h in json.loads(out)]
    rc, out, _ = run(capsys, "similar", str(env / "img001.jpg"), "--json")
    assert rc == 0 and len(json.loads(out)) == 7

    rc, out, _ = run(capsys, "info", str(env / "img001.jpg"), "--json")
    rec = json.loads(out)
    assert set(rec) == RECORD_KEYS
    assert rec["camera"] == "Canon EOS R5" and rec["taken_at"] == "2021-07-14T10:30:00"
    assert rec["gps"]["lat"] == pytest.approx(47.3769, abs=1e-4) and rec["gps"]["alt"] == 408.0
    assert rec["place"]["country_code"] == "CH" and rec["place"]["region"] == "Zurich"
    assert (rec["width"], rec["height"]) == (97, 72)

    rc, out, _ = run(capsys, "info", str(env / "bad" / "zero.jpg"), "--json")
    rec = json.loads(out)
    assert rec["status"] == "error" and rec["error"] == "empty file (0 bytes)" and rec["thumbnail"] is None

    rc, out, _ = run(capsys, "status", "--json")
    st = json.loads(out)
    assert (st["indexed"], st["failed"]) == (8, 4)
    assert st["folders"] == [
        {
            "id": 1,
            "path": str(env),
            "indexed": 8,
            "failed": 4,
            "last_indexed_at": st["folders"][0]["last_indexed_at"],
            "state": "complete",
        }
    ]


def test_errors_are_messages_not_tracebacks(
    env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, _, err = run(capsys, "search", "")
    assert rc == 1 and "query is empty" in err and "Traceback" not in err
    rc, _, err = run(capsys, "index", str(tmp_path / "nope"))
    assert rc == 1 and "not a folder" in err
    rc, _, err = run(capsys, "info", "--id", "999")
    assert rc == 1 and "999" in err
    monkeypatch.setenv("STYLESEEK_MODELS_DIR", str(tmp_path / "empty"))
    rc, _, err = run(capsys, "index", str(env))
    assert rc == 1 and "styleseek models download" in err


def test_models_status_and_tiny(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STYLESEEK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STYLESEEK_MODELS_DIR", str(tmp_path / "m"))
    rc, out, _ = run(capsys, "models", "status", "--json")
    assert rc == 0 and json.loads(out)[0]["present"] is False
    rc, out, _ = run(capsys, "models", "tiny", str(tmp_path / "m"))
    assert rc == 0
    rc, out, _ = run(capsys, "models", "status", "--json")
    st = json.loads(out)[0]
    assert st["present"] is True and st["random_weights"] is True and st["source"] == "models dir"


def test_weighted_terms_and_style_balance(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "index", str(env), "--json")[0] == 0
    rc, out, _ = run(
        capsys,
        "search",
        "red corner, style: oil painting:0.8, -blue:0.3",
        "--term",
        "style:0.5:watercolour",
        "-k",
        "4",
        "--json",
    )
    assert rc == 0
    hits = json.loads(out)
    terms = hits[0]["contributions"]["terms"]
    assert [(t["text"], t["target"], t["weight"]) for t in terms] == [
        ("red corner", "content", 1.0),
        ("oil painting", "style", 0.8),
        ("blue", "content", -0.3),
        ("watercolour", "style", 0.5),
    ]
    for h in hits:  # the parts add up to the score
        assert sum(t["contribution"] for t in h["contributions"]["terms"]) == pytest.approx(h["score"], abs=1e-5)
        assert set(h["contributions"]["models"]) == {"content", "style"}
    rc, out, _ = run(capsys, "similar", str(env / "img001.jpg"), "--balance", "1", "--json")
    assert rc == 0 and set(json.loads(out)[0]["contributions"]["models"]) == {"style", "texture"}
    rc, _, err = run(capsys, "search", "--term", "colour:1:red")
    assert rc == 1 and "unknown target" in err
    rc, _, err = run(capsys, "search", "--", "-people")  # argparse needs -- before a leading minus
    assert rc == 1 and "positive weight" in err


def test_search_by_pictures_for_and_against(env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from tests.imagegen import pattern, save_jpeg

    assert run(capsys, "index", str(env), "-q")[0] == 0
    rc, out, _ = run(capsys, "info", str(env / "img001.jpg"), "--json")
    liked = json.loads(out)["id"]
    outside = save_jpeg(tmp_path / "elsewhere" / "new.jpg", pattern(120, 90, 7))
    # an indexed picture by id, a picture from outside the library, an indexed one against by its path
    against = env / "deep" / "er" / "img002.webp"
    rc, out, err = run(
        capsys, "search", "--like", str(liked), "--like", str(outside), "--unlike", str(against), "--json"
    )
    assert rc == 0, err
    hits = json.loads(out)
    rc, info, _ = run(capsys, "info", str(against), "--json")
    labels = [t["text"] for t in hits[0]["contributions"]["terms"]]
    assert labels[:2] == [f"like #{liked}"] * 2 and labels[-1] == f"unlike #{json.loads(info)['id']}"
    assert any(t.startswith("like @") for t in labels)  # the outside picture, embedded for this search
    assert liked not in [h["id"] for h in hits]  # the examples are not results
    rc, _, err = run(capsys, "search", "--like", str(tmp_path / "missing.jpg"))
    assert rc == 1 and "missing.jpg" in err
    rc, _, err = run(capsys, "search", "--unlike", str(liked))
    assert rc == 1 and "positive weight" in err


def test_group_by_place_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "index", str(env), "--json")[0] == 0
    rc, out, _ = run(capsys, "search", "red", "-k", "8", "--group-by", "place", "--json")
    groups = json.loads(out)["groups"]
    assert rc == 0 and [g["place"] for g in groups][-1] == "No place"
    assert any(g["place"].endswith("CH") for g in groups) and sum(len(g["hits"]) for g in groups) == 8


def test_location_terms_say_how_they_were_understood(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "index", str(env), "--json")[0] == 0
    rc, out, err = run(capsys, "search", "red, near Paris", "--json")
    assert rc == 0 and isinstance(json.loads(out), list)  # stdout stays pure JSON
    assert "near Paris → Paris (Île-de-France, FR), 25 km (also: Paris (Texas, US);" in err
    rc, _, err = run(capsys, "search", "red", "--term", "location:1:in Paris, Texas", "--json")
    assert rc == 0 and "in Paris, Texas → Paris (Texas, US), 15 km" in err
    rc, _, err = run(capsys, "search", "in: Eiffel Tower")
    assert rc == 0 and "Eiffel Tower (landmark), FR, 1 km" in err


@pytest.mark.llm
def test_suggest_command(env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "suggest", "watercolor landscapes with mountains in Switzerland", "--json")
    got = json.loads(out)
    assert rc == 0 and got["engine"] == "rules"
    assert got["terms"][:2] == [
        {"text": "landscapes with mountains", "target": "content", "weight": 1.0},
        {"text": "in Switzerland", "target": "location", "weight": 1.0},
    ]
    assert "styleseek models download --llm" in got["notes"][0]  # says how to get the LLM
    rc, out, _ = run(capsys, "suggest", "cubist portrait", "--engine", "rules")
    assert rc == 0 and "suggested by rules:" in out and 'search with: styleseek search "portrait, style: cubist' in out
    rc, _, err = run(capsys, "suggest", "cubist portrait", "--engine", "llm")
    assert rc == 1 and "No local LLM" in err
    from models.tiny import write_random_llm

    gguf = write_random_llm(tmp_path / "m")
    rc, out, _ = run(capsys, "suggest", "cubist portrait", "--llm", str(gguf), "--json")
    assert rc == 0 and json.loads(out)["engine"].startswith("llm: tiny-random-llama.gguf")
    rc, out, err = run(capsys, "suggest", "cubist portrait", "--llm", str(gguf))
    assert rc == 0 and "asking tiny-random-llama.gguf (at most 60 s)" in err and "suggested by llm:" in out
    assert run(capsys, "index", str(env), "--json")[0] == 0
    rc, out, _ = run(capsys, "suggest", "sunny day", "--engine", "rules", "--more-like", "red", "--json")
    assert rc == 0 and any("current results look like" in n for n in json.loads(out)["notes"])


def test_models_status_lists_the_llm(env: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:  # noqa: ANN001
    rc, out, _ = run(capsys, "models", "status", "--json")
    llm = next(m for m in json.loads(out) if m["model"] == "llm")
    assert rc == 0 and llm["present"] is False and llm["source"] == "missing"
    monkeypatch.setenv("STYLESEEK_ALLOW_DOWNLOAD", "false")
    rc, _, err = run(capsys, "models", "download", "--llm")
    assert rc == 1 and "downloads are turned off" in err


def test_a_date_in_the_query_filters(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "index", str(env), "-q")[0] == 0
    rc, out, err = run(capsys, "search", "a cat july 2021", "--json")
    hits = json.loads(out)
    assert rc == 0 and "taken July 2021" in err
    assert hits and all(h["taken_at"].startswith("2021-07") for h in hits)
    assert hits[0]["contributions"]["terms"][0]["text"] == "a cat"  # the date is no term
    rc, out, _ = run(capsys, "search", "a cat 2020", "--json")
    assert rc == 0 and json.loads(out) == []
