"""Query suggestions: the rule-based suggester, validation of any engine's answer, and the real llama.cpp path
on a tiny random GGUF model written by the tests (grammar-constrained decoding must still give valid JSON)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from models.errors import ModelError
from models.llm import LlmTimeout, LocalLlm, locate_llm
from models.tiny import write_random_llm
from search.query import TARGETS, make_term
from search.suggest import MAX_TEXT, SCHEMA, WEIGHTS, Tags, clean_terms, rule_suggestions
from services import StyleSeek
from settings import Settings
from tests.imagegen import make_collection


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_llm(tmp_path_factory.mktemp("llm"))


def split(description: str) -> list[tuple[str, str, float]]:
    raw, _ = rule_suggestions(description)
    terms, _ = clean_terms(raw)
    return [(t.text, t.target, t.weight) for t in terms]


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (
            "impressionist paintings of people at the beach",
            [
                ("people at the beach", "content", 1.0),
                ("impressionist painting", "style", 0.9),
                ("loose visible brushwork", "style", 0.6),
            ],
        ),
        (
            "watercolor landscapes with mountains in Switzerland",
            [
                ("landscapes with mountains", "content", 1.0),
                ("in Switzerland", "location", 1.0),
                ("watercolor painting", "style", 0.8),
                ("soft transparent washes", "style", 0.5),
            ],
        ),
        (
            "black and white photos of a city street near Paris without cars",
            [
                ("a city street", "content", 1.0),
                ("near Paris", "location", 1.0),
                ("black and white photography", "style", 0.9),
                ("high contrast grayscale", "style", 0.6),
                ("cars", "content", -0.8),
            ],
        ),
        ("photos of my kids at the Eiffel Tower", [("my kids", "content", 1.0), ("in Eiffel Tower", "location", 1.0)]),
        ("sunset over mountains", [("sunset over mountains", "content", 1.0)]),
        (  # the first preposition is no place ("the beach"), the later one is
            "impressionist paintings of people at the beach in France",
            [
                ("people at the beach", "content", 1.0),
                ("in France", "location", 1.0),
                ("impressionist painting", "style", 0.9),
                ("loose visible brushwork", "style", 0.6),
            ],
        ),
        (
            "portrait of a woman, oil painting, dark background",
            [
                ("portrait of a woman", "content", 1.0),
                ("dark background", "content", 1.0),
                ("oil painting", "style", 0.8),
                ("visible canvas texture", "style", 0.5),
            ],
        ),
        (
            "a watercolour of the Matterhorn",
            [
                ("the Matterhorn", "content", 1.0),
                ("watercolor painting", "style", 0.8),
                ("soft transparent washes", "style", 0.5),
            ],
        ),
        ("a dog in water", [("a dog in water", "content", 1.0)]),  # "water" is no place
        ("sunset by the lake", [("sunset by the lake", "content", 1.0)]),  # "by" is not always "by an artist"
        (
            "picasso-inspired portrait",
            [
                ("portrait", "content", 1.0),
                ("cubist painting", "style", 0.9),
                ("fragmented geometric planes", "style", 0.6),
            ],
        ),
        (
            "cubist portrait in the style of picasso",
            [
                ("portrait", "content", 1.0),
                ("cubist painting", "style", 0.9),
                ("fragmented geometric planes", "style", 0.6),
            ],
        ),
        (
            "loose brushwork oil painting of flowers",
            [
                ("flowers", "content", 1.0),
                ("oil painting", "style", 0.8),
                ("visible canvas texture", "style", 0.5),
                ("loose brushwork", "style", 0.6),
            ],
        ),
    ],
)
def test_rule_based_suggester_splits_descriptions(description: str, expected: list) -> None:
    assert split(description) == expected


def test_rule_based_suggester_ignores_lowercase_small_towns() -> None:
    # Beach (North Dakota) is a town, but "at the beach" is a scene; "in france" is still France
    assert ("in france", "location", 1.0) in split("garden in france")
    assert all(t != "location" for _, t, _ in split("people at the beach"))


def test_rule_based_suggester_uses_tags_of_the_results() -> None:
    tags = Tags(subjects=[("a beach", 5), ("people", 4)], styles=[("impressionist painting", 3)], media=[], of=6)
    raw, notes = rule_suggestions("sunny day", tags)
    terms, _ = clean_terms(raw)
    assert [(t.text, t.target, t.weight) for t in terms] == [
        ("sunny day", "content", 1.0),
        ("a beach", "content", 0.5),
        ("people", "content", 0.5),
        ("impressionist painting", "style", 0.5),
    ]
    assert "a beach (5/6)" in notes[0]


def test_clean_terms_clamps_drops_and_explains() -> None:
    raw = {
        "terms": [
            {"text": "  red\x00 sailboat\n at\tsunset ", "target": "content", "weight": 1.7},
            {"text": "Red sailboat at sunset", "target": "content", "weight": 0.5},  # a duplicate
            {"text": "", "target": "style", "weight": 1},
            {"text": "###", "target": "style", "weight": 1},
            {"text": "oil paint", "target": "colour", "weight": 1},
            {"text": "watercolor", "target": "style", "weight": "lots"},
            {"text": "Atlantis Under The Sea", "target": "location", "weight": 0.8},
            {"text": "Zurich", "target": "location", "weight": -3},
            {"text": "word " * 40, "target": "content", "weight": 0.3},
            "not an object",
        ]
    }
    terms, notes = clean_terms(raw)
    assert [(t.text, t.target, t.weight) for t in terms] == [
        ("red sailboat at sunset", "content", 1.0),
        ("Atlantis Under The Sea", "content", 0.8),
        ("in Zurich", "location", -1.0),
        (("word " * 12).strip(), "content", 0.3),
    ]
    text = " | ".join(notes)
    for expected in ("clamped to 1", "twice", "empty", "unknown target 'colour'", "no usable weight", "not a place"):
        assert expected in text, expected
    assert "clamped to -1" in text and "malformed" in text
    for t in terms:  # every survivor is a term the search accepts
        assert make_term(t.text, t.target, t.weight) == t
    assert clean_terms({"answer": "no"}) == ([], ["the suggestion engine gave no list of terms"])
    only_negative, notes = clean_terms([{"text": "people", "target": "content", "weight": -1}])
    assert len(only_negative) == 1 and "exclusion" in notes[-1]


def _conforms(answer: dict) -> None:
    assert set(answer) == {"terms"}
    items = answer["terms"]
    assert 1 <= len(items) <= SCHEMA["properties"]["terms"]["maxItems"]
    for item in items:
        assert set(item) == {"text", "target", "weight"}
        assert item["target"] in TARGETS and item["weight"] in WEIGHTS
        assert isinstance(item["text"], str) and 2 <= len(item["text"]) <= MAX_TEXT


@pytest.mark.llm
def test_tiny_gguf_through_llama_cpp_gives_schema_conforming_json(tiny_gguf: Path) -> None:
    """Random weights, so the texts are noise: the grammar alone makes the answer valid."""
    for seed in range(3):
        llm = LocalLlm(tiny_gguf, threads=2, seed=seed)
        answer, finish = llm.chat_json(
            [{"role": "user", "content": "impressionist paintings of people at the beach"}], SCHEMA, max_tokens=1200
        )
        assert finish == "stop"
        _conforms(answer)
        terms, _ = clean_terms(answer)
        for t in terms:
            assert make_term(t.text, t.target, t.weight) == t


@pytest.mark.llm
def test_a_slow_model_is_stopped_at_its_deadline_and_recovers(tiny_gguf: Path) -> None:
    llm = LocalLlm(tiny_gguf, threads=2)
    llm.load()
    t0 = time.monotonic()
    with pytest.raises(LlmTimeout, match="longer than 0.001 s"):
        llm.chat_json([{"role": "user", "content": "x"}], SCHEMA, max_tokens=1200, timeout_s=0.001)
    assert time.monotonic() - t0 < 5
    _conforms(llm.chat_json([{"role": "user", "content": "x"}], SCHEMA, max_tokens=1200)[0])


@pytest.mark.llm
def test_engine_choice_and_fallbacks(settings: Settings, shared_encoder, tiny_gguf: Path, tmp_path: Path) -> None:  # noqa: ANN001
    def svc(**kw: object) -> StyleSeek:
        return StyleSeek(settings.model_copy(update=kw), content_encoder=shared_encoder, style_encoders={})

    desc = "impressionist paintings of people at the beach"
    off = svc(llm="off").suggest(desc)
    assert off.engine == "rules" and off.notes == [] and off.terms[0].text == "people at the beach"
    # a date in the description is a filter that stays in the search box, never a term
    dated = svc(llm="off").suggest(desc + " last summer")
    assert [t.text for t in dated.terms] == [t.text for t in off.terms]
    assert dated.date is not None and dated.date.text == "last summer" and "is a date" in dated.notes[0]
    assert dated.to_dict()["date"]["text"] == "last summer" and off.to_dict()["date"] is None
    missing = svc(llm="auto").suggest(desc)  # nothing in the models dir, the hub is offline
    assert missing.engine == "rules" and "styleseek models download --llm" in missing.notes[0]
    assert not locate_llm(settings.model_copy(update={"llm": "auto"})).present
    with pytest.raises(ModelError, match="No local LLM"):
        svc(llm="auto").suggest(desc, engine="llm")
    real = svc(llm=str(tiny_gguf)).suggest(desc)
    assert real.engine == "llm: tiny-random-llama.gguf (random test weights)" and real.terms
    assert svc(llm=str(tiny_gguf)).suggest(desc, engine="rules").engine == "rules"
    slow = svc(llm=str(tiny_gguf), llm_timeout_s=0.001).suggest(desc)
    assert slow.engine == "rules" and "was stopped" in slow.notes[0] and "rule-based" in slow.notes[1]
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    bad = svc(llm=str(broken)).suggest(desc)
    assert bad.engine == "rules" and "could not load" in bad.notes[0]
    gone = svc(llm=str(tmp_path / "nowhere.gguf"))
    assert not locate_llm(gone.settings).present and gone.suggest(desc).engine == "rules"
    from search.query import QueryError

    with pytest.raises(QueryError, match="describe"):
        svc(llm="off").suggest("   ")


def test_more_like_these_results_tags_them(settings: Settings, shared_encoder, tmp_path: Path) -> None:  # noqa: ANN001
    app = StyleSeek(settings.model_copy(update={"llm": "off"}), content_encoder=shared_encoder, style_encoders={})
    make_collection(tmp_path / "lib", n=6)
    app.index_folders([tmp_path / "lib"])
    ids = [h.image.id for h in app.search("red", 6)]
    tags = app.result_tags(ids)
    assert tags.of == len(ids) and sum(n for _, n in tags.subjects) >= len(ids)
    assert tags.styles == [] and tags.media == []  # no style model here: no style tags
    out = app.suggest("sunny day", more_like=ids)
    assert out.engine == "rules" and any("current results look like" in n for n in out.notes)
    assert len(out.terms) > 1 and out.terms[1].weight == 0.5


@pytest.mark.llm
def test_a_model_stuck_outside_generation_does_not_hang_the_caller(
    settings: Settings, shared_encoder, tiny_gguf
) -> None:  # noqa: ANN001
    """Prompt processing cannot be interrupted; the caller waits on the model's thread only until the limit."""

    class StuckInPrompt:  # stands in for a model busy evaluating a long prompt
        path = tiny_gguf

        def chat_json(self, *args: object, **kw: object) -> tuple:
            time.sleep(4)
            return {"terms": []}, "stop"

    app = StyleSeek(
        settings.model_copy(update={"llm": str(tiny_gguf), "llm_timeout_s": 0.5}),
        content_encoder=shared_encoder,
        style_encoders={},
    )
    app.suggester._llm = StuckInPrompt()
    t0 = time.monotonic()
    out = app.suggest("cubist portrait")
    assert time.monotonic() - t0 < 3.5
    assert out.engine == "rules" and "did not answer within 0.5 s" in out.notes[0]


@pytest.mark.llm
def test_warming_puts_the_system_prompt_in_the_cache_as_a_prefix_of_every_prompt(tiny_gguf: Path) -> None:
    from search.suggest import llm_messages

    llm = LocalLlm(tiny_gguf, threads=2)
    n = llm.warm(llm_messages("")[:1])
    model = llm.load()
    for description in ("cubist portrait", "impressionist paintings of people at the beach"):
        prompt = llm._formatter(model)(messages=llm_messages(description)).prompt
        tokens = model.tokenize(prompt.encode("utf-8"), special=True)
        assert n > 100 and len(tokens) > n and list(model._input_ids[:n]) == tokens[:n]
    _conforms(llm.chat_json(llm_messages("cubist portrait"), SCHEMA, max_tokens=1200)[0])


def test_what_styleseek_llm_means(settings: Settings, tmp_path: Path) -> None:
    from models.errors import WeightsMissingError
    from models.llm import download_llm

    def s(value: str) -> Settings:
        return settings.model_copy(update={"llm": value, "allow_download": True})

    repo = locate_llm(s("someone/Some-Model-GGUF"))  # a repo id: looked up in the models dir and the HF cache
    assert not repo.present and repo.source == "missing" and repo.title.startswith("someone/Some-Model-GGUF")
    missing = locate_llm(s(str(tmp_path / "nowhere.gguf")))
    assert not missing.present and "no GGUF file there" in missing.title
    with pytest.raises(WeightsMissingError, match="nothing to download"):
        download_llm(s(str(tmp_path / "nowhere.gguf")))
    folder = tmp_path / "llms"
    gguf = write_random_llm(folder)  # a folder works too: its GGUF is found
    found = locate_llm(s(str(gguf.parent)))
    assert found.present and found.source == "configured" and found.random_weights
    assert locate_llm(s("off")).source == "off"
