"""Bundles: round trip, hash check, strict loading, registry."""

import json
import shutil

import pytest
import torch

from core.model.bundle import BundleError, build_network, load_bundle
from core.model.registry import find_bundles, resolve_bundle


def test_round_trip_gives_identical_outputs(random_bundle):
    bundle = load_bundle(random_bundle.folder)
    assert bundle.classes == ["good", "oil", "scratch", "stain"] and len(bundle.sha256) == 64
    images = torch.randn(1, 3, 96, 160)
    first, second = build_network(bundle), build_network(load_bundle(random_bundle.folder / "model.json"))
    with torch.no_grad():
        assert torch.equal(first(images)[0], second(images)[0])


def test_changed_weights_fail_the_hash_check(random_bundle, tmp_path):
    copy = shutil.copytree(random_bundle.folder, tmp_path / "copy")
    weights = copy / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="SHA-256"):
        build_network(load_bundle(copy))


def test_weights_must_fit_the_architecture(random_bundle, tmp_path):
    copy = shutil.copytree(random_bundle.folder, tmp_path / "copy")
    meta = json.loads((copy / "model.json").read_text())
    meta.update(classes=["a", "b"], sha256="")
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="do not fit"):
        build_network(load_bundle(copy))


def test_missing_pieces_are_clear_errors(tmp_path):
    with pytest.raises(BundleError, match=r"no model\.json"):
        load_bundle(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(BundleError, match="cannot read"):
        load_bundle(tmp_path)


def test_registry_finds_bundles_and_resolves_names_and_folders(random_bundle, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.json").write_text("{}")
    shutil.copytree(random_bundle.folder, tmp_path / "random-test")
    dirs = [tmp_path]
    assert [b.name for b in find_bundles(dirs)] == ["random-test"]
    assert resolve_bundle("random-test", dirs).folder == tmp_path / "random-test"
    assert resolve_bundle(str(random_bundle.folder), dirs).folder == random_bundle.folder
    with pytest.raises(BundleError, match="available: random-test"):
        resolve_bundle("nope", dirs)
