"""Inference backends (issue 10): OpenVINO towers equal to PyTorch's, cached IR that is never trusted blindly,
int8 calibrated on the user's pictures and kept apart, content search ready before the style spaces."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from indexing.catalog import SpaceMismatchError
from models.backend import Backend, pick_backend
from models.base import Encoder
from models.content import ContentEncoder
from models.errors import ModelError
from models.style import StyleEncoder
from models.texture import TextureEncoder
from services import StyleSeek
from settings import Settings
from tests.imagegen import make_collection, pattern

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["a dog on a beach", "van gogh style", "", "ДОМ на берегу, café 東京", "word " * 90, "red"]


@pytest.fixture
def models(tmp_path: Path, tiny_models: Path) -> Path:
    """A private copy of the tiny models, so each test converts (and corrupts) its own IR."""
    import shutil

    dst = tmp_path / "models"
    shutil.copytree(tiny_models, dst, ignore=shutil.ignore_patterns("openvino"))
    return dst


def enc(cls: type[Encoder], models: Path, backend: str, **kw: object) -> Encoder:
    return cls(Settings(models_dir=models, data_dir=models.parent / "data", device="cpu", backend=backend, **kw))


@pytest.mark.slow
def test_tokenizer_and_preprocessing_are_open_clips_without_torch() -> None:
    import open_clip

    from models.clip_io import clip_preprocess, clip_tokenizer
    from tests.imagegen import pattern

    ref = open_clip.get_tokenizer("ViT-B-16")
    got = clip_tokenizer()(TEXTS)
    want = ref(TEXTS).numpy()
    assert got.shape[1] == (want != 0).sum(1).max() < 77 or got.shape[1] == 77
    np.testing.assert_array_equal(got, want[:, : got.shape[1]])
    _, _, pre = open_clip.create_model_and_transforms("ViT-B-16", pretrained=None)
    mine = clip_preprocess(224, open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)
    for w, h in ((640, 480), (480, 640), (225, 300), (100, 50)):
        img = pattern(w, h, w)
        np.testing.assert_array_equal(mine(img), pre(img).numpy())


@pytest.mark.parametrize("cls", [ContentEncoder, StyleEncoder, TextureEncoder])
@pytest.mark.slow
def test_openvino_towers_match_pytorch(models: Path, cls: type[Encoder]) -> None:
    """Every image and text tower: cosine at least 0.999 per item, and the same top-10 on a small collection."""
    t, o = enc(cls, models, "torch", texture_size=64), enc(cls, models, "openvino", texture_size=64)
    assert (t.backend, o.backend) == (Backend.TORCH, Backend.OPENVINO)
    assert t.fingerprint == o.fingerprint  # fp32 on either engine: the same space
    imgs = [pattern(60 + i, 48, i) for i in range(30)]
    vt, vo = t.encode_images(imgs), o.encode_images(imgs)
    assert vo.dtype == np.float32 and vo.shape == vt.shape == (30, t.dim)
    assert (vt * vo).sum(1).min() >= 0.999
    queries = vt[:5] if not cls.has_text else t.encode_text(TEXTS[:5])
    if cls.has_text:
        qo = o.encode_text(TEXTS)
        assert (t.encode_text(TEXTS) * qo).sum(1).min() >= 0.999
    for q in queries:
        # the same top-10; random tiny models put many scores within 1e-3 of each other, and there the order
        # of near-ties may differ: the pictures OpenVINO ranks i-th must score what PyTorch's i-th scores
        st, so = vt @ q, vo @ q
        top_t, top_o = np.argsort(-st)[:10], np.argsort(-so)[:10]
        np.testing.assert_allclose(st[top_o], st[top_t], atol=2e-3)
        assert len(set(top_t) & set(top_o)) >= 8


@pytest.mark.slow
def test_the_ir_is_cached_and_a_query_needs_neither_torch_nor_open_clip(models: Path) -> None:
    o = enc(ContentEncoder, models, "openvino")
    want = o.encode_text(["a red square"])
    records = sorted((models / "openvino" / "clip-vit-b-16-openai").glob("text-*-fp32-ov*.json"))
    assert len(records) == 1 and json.loads(records[0].read_text())["check_cosine"] >= 0.999
    code = f"""
import sys, json
from settings import Settings
from models.content import ContentEncoder
e = ContentEncoder(Settings(models_dir={str(models)!r}, device="cpu", backend="openvino"))
v = e.encode_text(["a red square"])
print(json.dumps({{"torch": "torch" in sys.modules, "open_clip": "open_clip" in sys.modules, "v": v[0].tolist()}}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["torch"] is False and got["open_clip"] is False
    np.testing.assert_allclose(got["v"], want[0], atol=1e-5)


@pytest.mark.slow
def test_a_changed_or_corrupt_ir_is_rebuilt_never_trusted(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import models.backend as mb

    img = [pattern(40, 40, 3)]
    want = enc(ContentEncoder, models, "openvino").encode_images(img)
    folder = models / "openvino" / "clip-vit-b-16-openai"
    (bin_file,) = folder.glob("image-*-fp32-*.bin")
    (xml_file,) = folder.glob("image-*-fp32-*.xml")
    calls = []
    real = mb.convert
    monkeypatch.setattr(mb, "convert", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert np.allclose(enc(ContentEncoder, models, "openvino").encode_images(img), want, atol=1e-5)
    assert calls == []  # loaded from the cache
    data = bytearray(bin_file.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # damaged weights, same size
    bin_file.write_bytes(bytes(data))
    assert np.allclose(enc(ContentEncoder, models, "openvino").encode_images(img), want, atol=1e-5)
    assert calls == [1]
    xml_file.write_text(xml_file.read_text().replace("<net ", "<net  "))  # an edited graph
    assert np.allclose(enc(ContentEncoder, models, "openvino").encode_images(img), want, atol=1e-5)
    assert calls == [1, 1]


def test_backend_choice(models: Path) -> None:
    s = Settings(models_dir=models, device="cpu")
    assert pick_backend(s) == (Backend.OPENVINO, "cpu")
    assert pick_backend(Settings(models_dir=models, device="cpu", backend="torch")) == (Backend.TORCH, "cpu")
    with pytest.raises(ModelError, match="needs the OpenVINO backend"):
        enc(ContentEncoder, models, "torch", precision="int8").load()
    with pytest.raises(ModelError, match="runs on the CPU"):
        pick_backend(Settings(models_dir=models, device="cuda", backend="openvino"))


@pytest.mark.slow
def test_int8_is_calibrated_on_the_collection_and_kept_apart(tmp_path: Path, models: Path) -> None:
    lib = tmp_path / "lib"
    make_collection(lib, 12)
    s8 = Settings(data_dir=tmp_path / "data", models_dir=models, device="cpu", precision="int8", batch_size=4,
                  calibration_images=8, style_search=False)  # fmt: skip
    svc = StyleSeek(s8)
    assert svc.encoder.needs_calibration
    report = svc.index_folders([lib]).to_dict()
    assert report["indexed"] == 12 and report["failed"] == 0
    assert svc.encoder.fingerprint.endswith("@int8") and not svc.encoder.needs_calibration
    (rec,) = (models / "openvino" / "clip-vit-b-16-openai").glob("image-*-int8-*.json")
    assert json.loads(rec.read_text())["calibration_images"] == 8
    hits = svc.search("a red square", k=5)
    assert len(hits) == 5
    fp32 = StyleSeek(Settings(**{**s8.model_dump(), "precision": "fp32"}))
    with pytest.raises(SpaceMismatchError, match="int8 precision"):
        fp32.index_folders([lib])


class Watcher:
    """A style encoder that notes when it is first called, and what a content search finds at that moment."""

    def __init__(self, inner: Encoder, svc_box: list) -> None:
        self.inner, self.svc_box = inner, svc_box
        self.first_call: list = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def encode_prepared(self, batch: list) -> np.ndarray:
        if not self.first_call:
            svc = self.svc_box[0]
            self.first_call.append((len(svc.search("a red square", k=50)), svc.catalog.count_vectors("content")))
        return self.inner.encode_prepared(batch)


@pytest.mark.slow
def test_content_search_is_ready_before_the_style_spaces(tmp_path: Path, models: Path) -> None:
    lib = tmp_path / "lib"
    make_collection(lib, 10)
    s = Settings(data_dir=tmp_path / "data", models_dir=models, device="cpu", batch_size=4, texture_size=64)
    box: list = []
    style = Watcher(StyleEncoder(s), box)
    svc = StyleSeek(s, style_encoders={"style": style, "texture": TextureEncoder(s)})
    box.append(svc)
    from indexing.progress import Progress

    progress = Progress()
    phases: list[tuple[str, int, int]] = []
    progress.listen(lambda snap: phases.append((snap.phase, snap.content_ready, snap.fill_total)))
    report = svc.index_folders([lib], progress).to_dict()
    assert report["indexed"] == 10 and report["failed"] == 0
    assert style.first_call == [(10, 10)]  # every picture searchable by content before any style vector
    assert ("style", 10, 10) in phases
    assert svc.space_status() == {s: {"images": 10, "of": 10} for s in ("content", "style", "texture")}
    off = Settings(**{**s.model_dump(), "data_dir": tmp_path / "data2", "content_first": "off"})
    box2: list = []
    style2 = Watcher(StyleEncoder(off), box2)
    svc2 = StyleSeek(off, style_encoders={"style": style2, "texture": TextureEncoder(off)})
    box2.append(svc2)
    svc2.index_folders([lib])
    assert style2.first_call[0][1] < 10  # one pass: the style model runs beside the content model


@pytest.mark.slow
def test_status_says_what_is_searchable(tmp_path: Path, models: Path, capsys: pytest.CaptureFixture) -> None:
    from cli import main
    from indexing.progress import ProgressFile

    lib = tmp_path / "lib"
    make_collection(lib, 6)
    s = Settings(data_dir=tmp_path / "data", models_dir=models, device="cpu", texture_size=64)
    svc = StyleSeek(s)
    svc.index_folders([lib])
    with svc.catalog.transaction() as t:  # as if the style pass were under way
        few = "SELECT id FROM images LIMIT 4"
        t.execute(f"DELETE FROM vectors WHERE space IN ('style', 'texture') AND image_id IN ({few})")
    (s.resolved_data_dir / "indexing.json").write_text(
        json.dumps(
            {
                "state": "indexing",
                "updated_at": time.time(),
                "eta_seconds": 5400.0,
                "done": 6,
                "total": 6,
                "message": "",
            }
        )  # fmt: skip
    )
    assert ProgressFile.read(s.resolved_data_dir / "indexing.json")["eta_seconds"] == 5400.0
    assert main(["status", "--data-dir", str(s.resolved_data_dir), "--models-dir", str(models)]) == 0
    out = capsys.readouterr().out
    assert "content search ready for 6 images; style 33%; texture 33% (about 2 h left)" in out
    from starlette.testclient import TestClient

    from app import create_app

    page = TestClient(create_app(s, services=svc), base_url="http://127.0.0.1").get("/counts").text
    assert "6 images indexed" in page and "style 33%" in page and "texture 33%" in page


@pytest.mark.slow
def test_two_threads_can_search_at_once(models: Path) -> None:
    o = enc(ContentEncoder, models, "openvino")
    want = o.encode_text(["a", "b"])
    errors: list = []

    def run() -> None:
        try:
            for _ in range(20):
                assert np.allclose(o.encode_text(["a", "b"]), want, atol=1e-5)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=run) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []


def test_the_library_panel_says_content_search_is_ready_during_the_style_pass() -> None:
    from fasthtml.common import to_xml

    from indexing.progress import Progress
    from ui.library import ProgressView

    p = Progress(state="indexing", phase="style", content_ready=48210, fill_total=48210, fill_done=5785)
    p.phase_started_at = p.started_at = time.monotonic() - 3600  # 5785 images in the last hour
    html = to_xml(ProgressView(p.snapshot()))
    assert "Content search ready for 48,210 images · style 12% (5,785 / 48,210, about 7 h left)" in html
