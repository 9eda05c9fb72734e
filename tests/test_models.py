from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import CONTENT, WeightsMissingError
from models import weights as w
from models.content import ContentEncoder
from settings import Settings
from tests.imagegen import pattern


def test_tiny_model_folder_has_the_real_layout(tiny_models: Path) -> None:
    folder = tiny_models / CONTENT.folder
    cfg = json.loads((folder / "open_clip_config.json").read_text())
    assert set(cfg) == {"model_cfg", "preprocess_cfg"}
    assert (folder / CONTENT.weight_files[0]).is_file()
    assert set(cfg["model_cfg"]) == set(CONTENT.config["model_cfg"])  # same keys as the real config


def test_encoder_outputs_are_normalised_float32(shared_encoder: ContentEncoder) -> None:
    imgs = [pattern(50, 40, s) for s in range(3)]
    v = shared_encoder.encode_images(imgs)
    t = shared_encoder.encode_text(["a red square", "a dog on a beach"])
    for arr, n in ((v, 3), (t, 2)):
        assert arr.dtype == np.float32 and arr.shape == (n, shared_encoder.dim)
        np.testing.assert_allclose(np.linalg.norm(arr, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(v[0], v[1])
    # batching must not change a result
    np.testing.assert_allclose(shared_encoder.encode_images(imgs[:1])[0], v[0], atol=1e-5)


def test_reloading_the_saved_weights_gives_identical_outputs(tiny_models: Path, shared_encoder: ContentEncoder) -> None:
    other = ContentEncoder(Settings(models_dir=tiny_models, device="cpu"))
    img = [pattern(30, 30, 7)]
    np.testing.assert_array_equal(other.encode_images(img), shared_encoder.encode_images(img))
    assert other.fingerprint == shared_encoder.fingerprint
    assert other.random_weights


def test_missing_weights_raise_a_clear_message(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, models_dir=tmp_path / "none")
    assert not w.locate(CONTENT, s).present
    with pytest.raises(WeightsMissingError) as e:
        ContentEncoder(s).load()
    msg = str(e.value)
    assert "styleseek models download" in msg and CONTENT.hf_repo in msg and str(tmp_path / "none") in msg


def test_explicit_state_dict_file_is_materialised_and_loads(tmp_path: Path, tiny_models: Path) -> None:
    """STYLESEEK_CONTENT_WEIGHTS pointing at a bare weights file: the folder is built around it."""
    src = tiny_models / CONTENT.folder / CONTENT.weight_files[0]
    # a real OpenAI file would need the real config; here the tiny config stands in for the spec's
    s = Settings(data_dir=tmp_path, models_dir=tmp_path / "m", content_weights=src)
    st = w.locate(CONTENT, s)
    assert st.present and st.source == "explicit path"
    folder = w.resolve(CONTENT, s)
    assert (folder / CONTENT.weight_files[0]).resolve() == src.resolve()
    assert json.loads((folder / "open_clip_config.json").read_text()) == CONTENT.config


def test_a_different_model_changes_the_fingerprint(tmp_path: Path) -> None:
    from models.tiny import write_tiny_models

    write_tiny_models(tmp_path / "a", seed=1)
    write_tiny_models(tmp_path / "b", seed=2)
    fa = w.fingerprint(tmp_path / "a" / CONTENT.folder, CONTENT)
    fb = w.fingerprint(tmp_path / "b" / CONTENT.folder, CONTENT)
    assert fa != fb


def test_model_loads_lazily(tiny_models: Path) -> None:
    enc = ContentEncoder(Settings(models_dir=tiny_models, device="cpu"))
    assert not enc.loaded
    enc.encode_images([Image.new("RGB", (20, 20))])
    assert enc.loaded


def test_trimmed_text_encoding_equals_open_clips_padded_one(tiny_models: Path) -> None:
    import open_clip
    import torch

    from models.torch_util import OpenClipText

    enc = ContentEncoder(Settings(models_dir=tiny_models, device="cpu", backend="torch"))
    model = enc._torch()
    texts = ["a dog", "an impressionist painting of people at the beach in the late afternoon sun", ""]
    padded = open_clip.get_tokenizer("ViT-B-16")(texts)
    trimmed = torch.from_numpy(enc._tokenize(texts))
    assert trimmed.shape[1] < padded.shape[1] and torch.equal(padded[:, : trimmed.shape[1]], trimmed)
    with torch.inference_mode():
        torch.testing.assert_close(OpenClipText(model)(trimmed), model.encode_text(padded), atol=1e-5, rtol=1e-4)


def test_random_style_weights_beside_real_content_weights_are_announced(
    tmp_path: Path, tiny_models: Path, shared_encoder: ContentEncoder, shared_style_encoders: dict
) -> None:
    import shutil

    from services import StyleSeek

    models = tmp_path / "models"
    shutil.copytree(tiny_models, models, symlinks=True, ignore=shutil.ignore_patterns("openvino"))
    manifest = models / w.model_folder(CONTENT, Settings(models_dir=models)).name / w.MANIFEST_FILE
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "random_weights": False}))
    s = Settings(data_dir=tmp_path / "data", models_dir=models, device="cpu")
    kind, text = StyleSeek(s, content_encoder=shared_encoder, style_encoders=shared_style_encoders).model_notice()
    assert kind == "warning" and "style (" in text and "texture (" in text and "content (" not in text
    assert StyleSeek(s, content_encoder=shared_encoder, style_encoders={}).model_notice() is None
