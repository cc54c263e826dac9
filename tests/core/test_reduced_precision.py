"""Reduced-precision runtimes get an unknown-photo detector fitted on their own features."""

import json
import logging
import shutil

import pytest
import torch

from core.cli import main
from core.inference import runtime
from core.inference.engine import Engine
from core.inference.runtime import reduced_precision_runtimes
from core.model.bundle import RUNTIMES_KEY, BundleError, load_bundle, runtime_entry
from tests.core.test_training import shapes_dir, trained  # noqa: F401 - fixtures

BF16 = "openvino bf16"
needs_bf16 = pytest.mark.skipif(not reduced_precision_runtimes(), reason="this CPU runs no bfloat16 natively")


def test_a_runtime_uses_its_own_detector_where_there_is_one():
    novelty = {"file": "novelty.safetensors", "threshold": 0.2, RUNTIMES_KEY: {BF16: {"threshold": 0.25}}}
    assert runtime_entry(novelty, BF16)["threshold"] == 0.25
    assert runtime_entry(novelty, "openvino fp32") is novelty and runtime_entry(novelty, None) is novelty
    assert runtime_entry({}, BF16) == {}


@needs_bf16
def test_training_fits_a_bf16_detector_and_the_engine_uses_it(trained):  # noqa: F811
    entry = trained.novelty[RUNTIMES_KEY][BF16]
    assert (trained.folder / entry["file"]).is_file() and entry["file"] != trained.novelty["file"]
    assert entry["bank_size"] == trained.novelty["bank_size"] and entry["fitted_on"].startswith(BF16)
    bf16 = Engine(trained, backend="openvino", precision="bf16")
    fp32 = Engine(trained, backend="openvino", precision="fp32")
    assert bf16.policy.unknown_above == entry["threshold"] and fp32.policy.unknown_above == trained.novelty["threshold"]
    assert bf16.novelty is not None and fp32.novelty is not None
    assert not torch.equal(bf16.novelty.bank, fp32.novelty.bank)  # features of the arithmetic that runs


@needs_bf16
def test_an_older_model_warns_and_the_refit_gives_what_training_gave(trained, shapes_dir, tmp_path, caplog):  # noqa: F811
    older = tmp_path / "older"
    shutil.copytree(trained.folder, older)
    meta = json.loads((older / "model.json").read_text())
    fitted = meta["novelty"].pop(RUNTIMES_KEY)[BF16]
    (older / fitted["file"]).unlink()
    (older / "model.json").write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING):
        engine = Engine(load_bundle(older), backend="openvino", precision="bf16")
    assert "no unknown-photo detector fitted on openvino bf16 features" in caplog.text
    assert engine.policy.unknown_above == meta["novelty"]["threshold"]  # the float32 one, meanwhile

    assert main(["fit-reduced-precision", str(older), str(shapes_dir)]) == 0
    refitted = load_bundle(older).novelty[RUNTIMES_KEY][BF16]
    assert refitted["threshold"] == fitted["threshold"] and refitted["sha256"] == fitted["sha256"]


@needs_bf16
def test_a_tampered_bf16_bank_is_refused_with_one_line(trained, tmp_path):  # noqa: F811
    copy = tmp_path / "copy"
    shutil.copytree(trained.folder, copy)
    bank = copy / trained.novelty[RUNTIMES_KEY][BF16]["file"]
    data = bank.read_bytes()
    bank.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # one bit pattern changed
    with pytest.raises(BundleError, match=r"unknown-photo detector .* does not match the SHA-256"):
        Engine(load_bundle(copy), backend="openvino", precision="bf16")
    Engine(load_bundle(copy), backend="openvino", precision="fp32")  # float32 does not read it


def test_refit_refuses_what_it_cannot_do(trained, shapes_dir, tmp_path, capsys, monkeypatch):  # noqa: F811
    partial = tmp_path / "partial"
    shutil.copytree(shapes_dir, partial)
    next(partial.rglob("*.png")).unlink()
    assert main(["fit-reduced-precision", str(trained.folder), str(partial)]) == 2
    assert "lacks 1 photos" in capsys.readouterr().err
    monkeypatch.setattr(runtime, "native_bf16", lambda: False)  # an older workstation
    assert main(["fit-reduced-precision", str(trained.folder), str(shapes_dir)]) == 2
    assert "runs no reduced-precision runtime natively" in capsys.readouterr().err
