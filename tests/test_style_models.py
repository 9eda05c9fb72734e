"""The style encoders (CLIP ViT-L/14 through transformers, SD v1.4 VAE through diffusers) on tiny twins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models import weights as w
from models.errors import ModelError, WeightsMissingError
from models.specs import STYLE, TEXTURE
from models.style import StyleEncoder
from models.texture import TextureEncoder
from settings import Settings
from tests.imagegen import pattern


@pytest.fixture(scope="module")
def style(tiny_models: Path) -> StyleEncoder:
    e = StyleEncoder(Settings(models_dir=tiny_models, device="cpu"))
    e.load()
    return e


@pytest.fixture(scope="module")
def texture(tiny_models: Path) -> TextureEncoder:
    e = TextureEncoder(Settings(models_dir=tiny_models, device="cpu", texture_size=64))
    e.load()
    return e


def test_tiny_folders_have_the_real_layout(tiny_models: Path) -> None:
    for spec in (STYLE, TEXTURE):
        folder = tiny_models / spec.folder
        assert (folder / spec.config_file).is_file() and (folder / spec.weight_files[0]).is_file()
        cfg = json.loads((folder / spec.config_file).read_text())
        st = w.locate(spec, Settings(models_dir=tiny_models))
        assert st.present and st.random_weights and st.source == "models dir"
        if spec is TEXTURE:
            assert cfg["_class_name"] == "AutoencoderKL"
        else:
            assert cfg["architectures"] == ["CLIPModel"]


def test_style_vectors_are_normalised_and_text_matches_the_padded_encoding(style: StyleEncoder) -> None:
    imgs = [pattern(60, 40, s) for s in range(3)]
    v = style.encode_images(imgs)
    t = style.encode_text(["van gogh style", "loose impressionist brushwork, thick paint, swirling sky", ""])
    for arr, n in ((v, 3), (t, 3)):
        assert arr.dtype == np.float32 and arr.shape == (n, style.dim)
        np.testing.assert_allclose(np.linalg.norm(arr, axis=1), 1.0, atol=1e-5)
    import open_clip

    from models.torch_util import HfClipText

    texts = ["van gogh style", "loose impressionist brushwork, thick paint, swirling sky"]
    padded = open_clip.get_tokenizer("ViT-L-14")(texts)
    m = style._torch()
    with torch.inference_mode():
        full = m.text_projection(m.text_model(input_ids=padded).pooler_output)
        torch.testing.assert_close(HfClipText(m)(torch.from_numpy(style._tokenize(texts))), full, atol=1e-5, rtol=1e-4)


def test_texture_descriptor_shape_and_depth_balance(texture: TextureEncoder) -> None:
    v = texture.encode_images([pattern(80, 60, 1), pattern(80, 60, 2)])
    channels = [b.resnets[-1].out_channels for b in texture._torch().down_blocks]
    assert texture.dim == 2 * sum(channels) == v.shape[1]
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # every depth carries the same weight: each block has norm 1/sqrt(depths)
    start = 0
    for c in channels:
        np.testing.assert_allclose(
            np.linalg.norm(v[:, start : start + 2 * c], axis=1), len(channels) ** -0.5, atol=1e-5
        )
        start += 2 * c
    assert not np.allclose(v[0], v[1])
    np.testing.assert_allclose(texture.encode_images([pattern(80, 60, 1)])[0], v[0], atol=1e-5)
    with pytest.raises(ModelError, match="no text encoder"):
        texture.encode_text(["watercolour"])


def test_texture_fingerprint_includes_the_input_size(tiny_models: Path, texture: TextureEncoder) -> None:
    other = TextureEncoder(Settings(models_dir=tiny_models, device="cpu", texture_size=96))
    assert other.fingerprint != texture.fingerprint


@pytest.mark.parametrize("enc_cls", [StyleEncoder, TextureEncoder])
def test_missing_style_weights_say_where_to_get_them(tmp_path: Path, enc_cls) -> None:  # noqa: ANN001
    s = Settings(data_dir=tmp_path, models_dir=tmp_path / "none")
    with pytest.raises(WeightsMissingError) as e:
        enc_cls(s).load()
    assert enc_cls.spec.hf_repo in str(e.value) and "styleseek models download" in str(e.value)
    if enc_cls is TextureEncoder:
        assert "tree/main/vae" in str(e.value)
