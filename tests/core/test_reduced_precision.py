"""Reduced-precision runtimes get an unknown-photo detector and an anomaly-head bank fitted on their own features."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch

from core.cli import main
from core.inference import runtime
from core.inference.engine import Engine, model_input
from core.inference.runtime import reduced_precision_runtimes
from core.model.anomaly.memory import load_bank
from core.model.bundle import RUNTIMES_KEY, BundleError, load_bundle, runtime_entry
from core.model.onnx_backend import cached_onnx
from core.model.openvino_backend import OpenVinoNetwork
from core.model.registry import resolve_bundle
from tests.core.test_training import shapes_dir, trained  # noqa: F401 - fixtures
from tests.images import screen_photo

BF16 = "openvino bf16"
needs_bf16 = pytest.mark.skipif(not reduced_precision_runtimes(), reason="this CPU runs no bfloat16 natively")


def test_a_runtime_uses_its_own_detector_where_there_is_one():
    novelty = {"file": "novelty.safetensors", "threshold": 0.2, RUNTIMES_KEY: {BF16: {"threshold": 0.25}}}
    assert runtime_entry(novelty, BF16)["threshold"] == 0.25
    assert runtime_entry(novelty, "openvino fp32") is novelty and runtime_entry(novelty, None) is novelty
    assert runtime_entry({}, BF16) == {}


@needs_bf16
def test_training_fits_a_bf16_detector_and_the_engine_uses_it(trained):  # noqa: F811
    assert set(trained.novelty[RUNTIMES_KEY]) == set(reduced_precision_runtimes()) == {BF16, "openvino mixed"}
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


@needs_bf16
def test_the_head_measured_against_another_bank_reads_the_graphs_own_patches():
    """The runtime's own head bank replaces the exported one: measured against the exported (float32) bank, the
    patches it reads out of the graph give the graph's own distances, so only the bank differs."""
    bundle = resolve_bundle(None)
    exported = cached_onnx(bundle)
    float32_bank = load_bank(bundle.folder, bundle.anomaly_head).float()
    batch = model_input(np.stack([np.asarray(screen_photo(seed, size=(672, 384))) for seed in range(2)]), bundle)
    graph = OpenVinoNetwork(exported, bundle, "fp32").forward_all(batch).anomaly
    outside = OpenVinoNetwork(exported, bundle, "fp32", head=float32_bank).forward_all(batch).anomaly
    patches = OpenVinoNetwork(exported, bundle, "fp32", head="patches").forward_all(batch).anomaly
    assert graph is not None and outside is not None and patches is not None
    assert torch.allclose(graph, outside, atol=1e-3) and graph.max() > 1.0
    assert patches.shape == (2, float32_bank.shape[1], *graph.shape[-2:])


@needs_bf16
@pytest.mark.parametrize("reduced", runtime.REDUCED_PRECISION_DETECTORS)
def test_the_bundled_model_runs_bf16_with_its_own_head_bank_and_refuses_a_tampered_one(reduced, tmp_path):
    bundle = resolve_bundle(None)
    entry = bundle.anomaly_head[RUNTIMES_KEY][reduced]
    precision = runtime.parse_runtime(reduced)[1]
    engine = Engine(bundle, backend="openvino", precision=precision)
    assert engine.policy.unlisted_above == entry["threshold"] != bundle.anomaly_head["threshold"]
    assert isinstance(engine.network, OpenVinoNetwork) and isinstance(engine.network.head, torch.Tensor)
    assert torch.equal(engine.network.head, load_bank(bundle.folder, entry).float())
    float32 = Engine(bundle, backend="openvino", precision="fp32")
    assert float32.policy.unlisted_above == bundle.anomaly_head["threshold"]
    copy = tmp_path / "copy"
    shutil.copytree(bundle.folder, copy)
    data = (copy / entry["file"]).read_bytes()
    (copy / entry["file"]).write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    with pytest.raises(BundleError, match=f"anomaly head of 'phone-defects' for {reduced} cannot be used"):
        Engine(load_bundle(copy), backend="openvino", precision=precision)
