"""Exported models (ONNX, TorchScript, int8) and the ONNX Runtime backend agree with the torch engine."""

import numpy as np
import pytest
import torch

from core.cli import main
from core.inference.engine import Engine
from core.model.bundle import BundleError, build_network
from core.model.export import export_onnx, export_torchscript, read_sidecar
from core.model.onnx_backend import cached_onnx
from core.photos.samples import write_phone_photos
from core.photos.sources import collect_items
from core.training.quantize import MIN_CALIBRATION_PHOTOS, export_int8


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return collect_items(write_phone_photos(tmp_path_factory.mktemp("photos"), 8, size=(640, 360)))


def test_onnx_runtime_agrees_with_torch(random_bundle, photos):
    reference = list(Engine(random_bundle).classify(photos))
    exported = list(Engine(random_bundle, backend="onnxruntime").classify(photos))
    cell = 1 / min(reference[0].heatmap.shape)
    for ours, theirs in zip(exported, reference):
        assert ours.label == theirs.label and ours.status == theirs.status
        assert max(abs(ours.probabilities[c] - theirs.probabilities[c]) for c in theirs.probabilities) < 1e-4
        assert np.abs(np.subtract(ours.peak, theirs.peak)).max() <= cell


def test_the_export_is_cached_by_the_weights_and_described_beside_it(random_bundle):
    first = cached_onnx(random_bundle)
    stamp = first.stat().st_mtime_ns
    assert cached_onnx(random_bundle) == first and first.stat().st_mtime_ns == stamp  # not exported again
    meta = read_sidecar(first, random_bundle)
    assert meta["input"]["shape"][1:] == [3, *random_bundle.input_hw] and meta["classes"] == random_bundle.classes
    assert meta["opset"] == 17 and meta["outputs"][:2] == ["logits", "maps"]


def test_two_writers_of_one_export_both_finish(random_bundle, tmp_path, monkeypatch):
    """Cluster workers starting together export the same cached file: one finishing while the other writes must not
    take the other's half-written file away."""
    real_export, out = torch.onnx.export, tmp_path / "shared.onnx"
    others: list = []

    def export_while_another_finishes(*args, **kwargs):
        real_export(*args, **kwargs)
        if not others:  # the first writer is between writing and renaming when the second one finishes
            others.append("writing")
            others[0] = export_onnx(random_bundle, out)

    monkeypatch.setattr(torch.onnx, "export", export_while_another_finishes)
    assert export_onnx(random_bundle, out) == out and others == [out]
    assert read_sidecar(out, random_bundle)["classes"] == random_bundle.classes
    assert [path.name for path in tmp_path.iterdir() if "partial" in path.name] == []  # nothing left behind


def test_torchscript_export_gives_the_networks_outputs(random_bundle, tmp_path):
    path = export_torchscript(random_bundle, tmp_path / "model.pt")
    loaded = torch.jit.load(str(path))
    images = torch.randn(2, 3, *random_bundle.input_hw)
    with torch.no_grad():
        expected = build_network(random_bundle).forward_all(images)
        logits, maps = loaded(images)[:2]
    torch.testing.assert_close(logits, expected.logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(maps, expected.maps, atol=1e-4, rtol=1e-4)


def test_an_onnx_file_from_other_weights_or_changed_is_refused(random_bundle, strict_phone_bundle, tmp_path):
    path = export_onnx(random_bundle, tmp_path / "random.onnx")
    with pytest.raises(BundleError, match="exported from other weights"):
        Engine(strict_phone_bundle, backend="onnxruntime", onnx_file=path)
    with path.open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(BundleError, match="does not match the SHA-256"):
        Engine(random_bundle, backend="onnxruntime", onnx_file=path)
    assert Engine(random_bundle, backend="torch").bundle is random_bundle  # the torch backend still works


def test_int8_needs_enough_calibration_photos(random_bundle, tmp_path):
    few = tmp_path / "few"
    write_phone_photos(few, MIN_CALIBRATION_PHOTOS - 1, size=(320, 180))
    with pytest.raises(BundleError, match=f"at least {MIN_CALIBRATION_PHOTOS}"):
        export_int8(random_bundle, few, tmp_path / "int8.onnx")
    assert main(["export-model", str(random_bundle.folder), "--out", str(tmp_path / "x.onnx"), "--int8"]) == 2


def test_int8_export_runs_in_the_engine(random_bundle, tmp_path, photos):
    enough = tmp_path / "calibration"
    write_phone_photos(enough, MIN_CALIBRATION_PHOTOS, size=(320, 180))
    code = main(
        [
            "export-model",
            str(random_bundle.folder),
            "--out",
            str(tmp_path / "m.int8.onnx"),
            "--int8",
            "--calibration",
            str(enough),
        ]
    )
    assert code == 0
    engine = Engine(random_bundle, backend="onnxruntime", onnx_file=tmp_path / "m.int8.onnx")
    assert engine.precision == "int8"
    assert all(p.ok for p in engine.classify(photos))


def test_bf16_is_not_an_onnx_runtime_precision(random_bundle):
    with pytest.raises(ValueError, match="bf16 needs torch or openvino"):
        Engine(random_bundle, backend="onnxruntime", precision="bf16")


def test_export_model_command_writes_the_file_and_its_description(random_bundle, tmp_path, capsys):
    assert main(["export-model", str(random_bundle.folder), "--out", str(tmp_path / "out" / "m.onnx")]) == 0
    assert (tmp_path / "out" / "m.onnx").stat().st_size > 1_000_000 and (tmp_path / "out" / "m.onnx.json").exists()
    assert "ONNX opset 17" in capsys.readouterr().out
