"""Shared fixtures: Qt offscreen, isolated user folders, a small random model bundle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GOLDEN = REPO / "tests" / "data" / "golden"  # generated photos and what the engine says of them (tests.golden)
CLASSES = ["good", "oil", "scratch", "stain"]


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, monkeypatch):
    """Keep settings, logs and user models of each test inside its own temporary folder."""
    home = tmp_path / "user"
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("DEFECTSORT_MODELS", raising=False)
    return home


@pytest.fixture(scope="session")
def random_bundle(tmp_path_factory):
    """A randomly initialised mobilenet_v2 bundle with the phone classes and a small input."""
    import torch

    from core.model.bundle import Bundle, save_bundle
    from core.model.network import build_torchvision_model

    torch.manual_seed(0)
    model = build_torchvision_model("mobilenet_v2", len(CLASSES))
    bundle = Bundle(
        name="random-test",
        arch="mobilenet_v2",
        classes=list(CLASSES),
        input_size=[96, 160],
        subject="screen",
        version="0.0.1",
    )
    return save_bundle(bundle, model, tmp_path_factory.mktemp("bundles") / "random-test")


@pytest.fixture(scope="session")
def strict_phone_bundle(tmp_path_factory):
    """The bundled phone model with stricter thresholds (:func:`tests.golden.make_strict_bundle`), so
    that the generated photos in ``tests/data/golden`` come out ok, review, unknown and error."""
    from tests.golden import make_strict_bundle

    return make_strict_bundle(tmp_path_factory.mktemp("bundles") / "phone-strict")


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared, skipping the test when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path
