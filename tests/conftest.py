from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # never wait on the hub in tests
os.environ.pop("STYLESEEK_DATA_DIR", None)
os.environ.pop("STYLESEEK_MODELS_DIR", None)

from models.tiny import write_tiny_models  # noqa: E402
from settings import Settings  # noqa: E402

OUTPUT = Path(__file__).parent / "output"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random-weight models written through the same files and loader as the real ones."""
    d = tmp_path_factory.mktemp("models")
    write_tiny_models(d)
    return d


@pytest.fixture
def settings(tmp_path: Path, tiny_models: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        models_dir=tiny_models,
        batch_size=4,
        decode_workers=2,
        thumbnail_size=64,
        device="cpu",
    )


@pytest.fixture(scope="session")
def shared_encoder(tiny_models: Path):  # noqa: ANN201 - one loaded tiny model for the whole session
    from models.content import ContentEncoder

    enc = ContentEncoder(Settings(models_dir=tiny_models, device="cpu"))
    enc.load()
    return enc


@pytest.fixture(scope="session")
def shared_style_encoders(tiny_models: Path):  # noqa: ANN201 - the style and texture towers, loaded once too
    from models.style import StyleEncoder
    from models.texture import TextureEncoder

    s = Settings(models_dir=tiny_models, device="cpu")
    return {"style": StyleEncoder(s), "texture": TextureEncoder(s)}


@pytest.fixture
def svc(settings: Settings, shared_encoder, shared_style_encoders):  # noqa: ANN001, ANN201
    from services import StyleSeek

    return StyleSeek(settings, content_encoder=shared_encoder, style_encoders=shared_style_encoders)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
