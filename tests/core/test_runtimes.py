"""Runtimes: OpenVINO agrees with torch, the choice of backend and precision, and the judgement by the truth."""

import json
import logging
import re

import numpy as np
import pytest

from core.cli import main
from core.inference import runtime
from core.inference.engine import Engine
from core.inference.runtime import (
    REDUCED_PRECISIONS,
    choose_default,
    quality_losses,
    resolve_backend,
    resolve_precision,
)
from core.model.registry import resolve_bundle
from core.photos.samples import write_phone_photos
from core.photos.sources import collect_items
from tests.core.test_cross_validation import TINY, shapes_dir  # noqa: F401 - a fixture
from tests.images import SHAPES


@pytest.fixture(scope="module")
def phone_photos(tmp_path_factory):
    return collect_items(write_phone_photos(tmp_path_factory.mktemp("photos"), 3, size=(960, 540)))


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_exported_runtimes_agree_with_torch_on_batches(backend, phone_photos):
    """The bundled phone model has log-sum-exp pooling and an anomaly head, each a trap for an exporter:
    OpenVINO read the exported log-sum-exp as a sum over every axis, and the head's distances were traced for
    one photo at a time. Batches of three go through both, as float32, and agree with torch."""
    bundle = resolve_bundle(None)
    reference = list(Engine(bundle, batch_size=3).classify(phone_photos))
    engine = Engine(bundle, batch_size=3, backend=backend, precision="fp32")
    assert engine.precision == "fp32"
    for ours, theirs in zip(engine.classify(phone_photos), reference, strict=True):
        assert ours.label == theirs.label and ours.status == theirs.status
        assert max(abs(ours.probabilities[c] - theirs.probabilities[c]) for c in theirs.probabilities) < 1e-3
        assert ours.anomaly_score == pytest.approx(theirs.anomaly_score, rel=1e-3)
        assert ours.ood_score == pytest.approx(theirs.ood_score, abs=1e-3)


def test_openvino_bf16_runs_where_the_cpu_computes_it(phone_photos):
    bundle = resolve_bundle(None)
    engine = Engine(bundle, backend="openvino", precision="bf16")
    assert engine.precision == ("bf16" if runtime.native_bf16() else "fp32")
    reference = list(Engine(bundle).classify(phone_photos))
    for ours, theirs in zip(engine.classify(phone_photos), reference, strict=True):
        assert ours.ok and max(abs(ours.probabilities[c] - theirs.probabilities[c]) for c in theirs.probabilities) < 0.3


@pytest.mark.skipif(not runtime.native_bf16(), reason="this CPU computes no bfloat16 natively")
def test_mixed_precision_keeps_the_full_resolution_layers_float32(phone_photos):
    """OpenVINO's mixed precision: the convolutions that take the photo at full or half resolution (the stem and
    the first block) run float32, every later one bf16; the probabilities lie closer to float32's than bf16's."""
    bundle = resolve_bundle(None)
    engines = {precision: Engine(bundle, backend="openvino", precision=precision) for precision in REDUCED_PRECISIONS}
    engines["fp32"] = Engine(bundle, backend="openvino", precision="fp32")
    executed = engines["mixed"].network.compiled.get_runtime_model().get_ordered_ops()
    convolutions = [op.get_rt_info() for op in executed if op.get_rt_info()["layerType"].astype(str) == "Convolution"]
    precisions = [info["runtimePrecision"].astype(str) for info in convolutions]
    assert precisions[:5] == ["f32"] * 5 and set(precisions[5:]) == {"bf16"}
    results = {precision: list(engine.classify(phone_photos)) for precision, engine in engines.items()}

    def moved(precision: str) -> float:
        pairs = zip(results[precision], results["fp32"], strict=True)
        return max(abs(ours.probabilities[c] - p) for ours, theirs in pairs for c, p in theirs.probabilities.items())

    assert moved("mixed") < moved("bf16")


def test_the_default_runtime_and_its_fallbacks(monkeypatch, caplog):
    monkeypatch.setattr(runtime, "native_bf16", lambda: True)
    assert resolve_backend("auto") == "openvino" and resolve_precision("auto", "openvino") == runtime.AUTO_PRECISION
    assert resolve_precision("bf16", "openvino") == "bf16"
    assert resolve_precision("mixed", "openvino") == "mixed"
    assert resolve_precision("auto", "torch") == "fp32"  # the reference stays float32
    assert resolve_precision("auto", "onnxruntime") == "fp32"
    assert resolve_precision("bf16", "torch") == "bf16"
    with pytest.raises(ValueError, match="bf16 needs torch or openvino"):
        resolve_precision("bf16", "onnxruntime")
    with pytest.raises(ValueError, match=r"mixed precision .* needs openvino"):
        resolve_precision("mixed", "torch")
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("int4", "torch")
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend("tensorrt")
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(runtime, "native_bf16", lambda: False)  # an older workstation
    assert resolve_precision("auto", "openvino") == resolve_precision("bf16", "openvino") == "fp32"
    assert resolve_precision("mixed", "openvino") == "fp32"
    monkeypatch.setattr(runtime.importlib.util, "find_spec", lambda name: None)  # OpenVINO missing
    assert resolve_backend("auto") == "onnxruntime"
    assert "no bfloat16 natively" in caplog.text and "OpenVINO is not installed" in caplog.text


def _spread(mean: float, std: float = 0.02) -> dict:
    return {"mean": mean, "std": std}


def test_a_runtime_is_worse_only_beyond_the_reference_spread():
    reference = {"macro_f1": _spread(0.95), "review_share": _spread(0.10), "pooled accepted_accuracy": 0.99}
    within = {"macro_f1": _spread(0.935), "review_share": _spread(0.115), "pooled accepted_accuracy": 0.985}
    assert quality_losses(within, reference) == []
    beyond = {"macro_f1": _spread(0.92), "review_share": _spread(0.13), "pooled accepted_accuracy": 0.97}
    assert quality_losses(beyond, reference) == [
        "macro f1 0.920 against 0.950 +- 0.020",
        "review share 0.130 against 0.100 +- 0.020",
        "pooled accepted accuracy 0.970 against 0.990 +- 0.010",
    ]
    better = {"macro_f1": _spread(1.0), "review_share": _spread(0.0), "pooled accepted_accuracy": 1.0}
    assert quality_losses(better, reference) == []
    headless = {**within, "anomaly_auroc": None}
    assert quality_losses(headless, {**reference, "anomaly_auroc": _spread(0.97)}) == [
        "anomaly auroc not measured (the runtime lacks it)"
    ]
    judged = {"fp32": reference, "fast but worse": beyond, "faster, as good": within}
    speed = {"fp32": 10.0, "fast but worse": 40.0, "faster, as good": 25.0}
    assert choose_default(judged, "fp32", speed) == "faster, as good"


def test_photo_verdicts_pair_the_same_photo_under_each_runtime():
    from pathlib import Path

    from core.inference.prediction import Prediction
    from core.training.cross_validation import photo_verdicts
    from core.training.dataset import Sample

    samples = [Sample(Path(f"{name}.jpg"), 0, name) for name in ("a", "b", "c", "d")]
    truths = ["good", "oil", "oil", "good"]
    found = [
        Prediction(source="a", name="a", label="good", confidence=0.99),  # right, accepted
        Prediction(source="b", name="b", label="good", confidence=0.99),  # a defect called good, accepted
        Prediction(source="c", name="c", label="stain", confidence=0.6, status="review"),  # wrong, left to a person
        Prediction(source="d", name="d", status="error", error="unreadable"),  # no verdict
    ]
    assert photo_verdicts("darker", samples, truths, found, "good") == {
        "darker/a.jpg": [True, False, False, False],
        "darker/b.jpg": [False, True, True, False],
        "darker/c.jpg": [False, False, False, True],
    }


def test_the_paired_rule_tells_a_pattern_from_a_photo_or_two():
    fine, sent_to_review = [True, False, False, False], [True, False, False, True]
    reference = {f"{condition}/p{i}.jpg": fine for condition in ("held out", "jpeg q15") for i in range(100)}
    two_worse = {
        **reference,
        "held out/p0.jpg": [False, True, True, False],
        "jpeg q15/p0.jpg": [False, True, True, False],
    }
    assert runtime.paired_losses(two_worse, reference) == []  # 2 of 2 one way: p = 0.25, a photo or two is noise
    six_worse = {**reference, **{f"jpeg q15/p{i}.jpg": [False, False, False, True] for i in range(6)}}
    assert runtime.paired_losses(six_worse, reference) == [
        "right: worse on 6 photos, better on 0 (p = 0.0156)",
        "left to a person: worse on 6 photos, better on 0 (p = 0.0156)",
        "jpeg q15 right: worse on 6 photos, better on 0 (p = 0.0156)",
        "jpeg q15 left to a person: worse on 6 photos, better on 0 (p = 0.0156)",
    ]
    # as many more in Review under one condition as fewer under another: evened out overall, a cost under one
    busier = {**reference, **{f"jpeg q15/p{i}.jpg": sent_to_review for i in range(8)}}
    lighter = {**reference, **{f"held out/p{i}.jpg": sent_to_review for i in range(8)}}
    assert runtime.paired_losses(busier | {k: fine for k in lighter if k.startswith("held")}, lighter) == [
        "jpeg q15 left to a person: worse on 8 photos, better on 0 (p = 0.00391)"
    ]
    assert runtime.paired_losses({"held out/p0.jpg": fine}, reference) == [
        "199 photos the reference classified were not classified"
    ]
    judged = {"fp32": reference, "fast, six worse": six_worse, "faster, two worse": two_worse}
    speed = {"fp32": 10.0, "fast, six worse": 30.0, "faster, two worse": 20.0}
    assert choose_default(judged, "fp32", speed, runtime.paired_losses) == "faster, two worse"


@pytest.mark.slow
def test_bench_judges_every_runtime_on_held_out_folds(shapes_dir, tmp_path, capsys):  # noqa: F811
    model = tmp_path / "model"
    assert main(["train", str(shapes_dir), "--out", str(model), *TINY]) == 0
    figures = tmp_path / "bench.json"
    truth = ["--truth", str(shapes_dir), "--cv", "2"]
    assert main(["bench", "--model", str(model), *truth, "--rounds", "2", "--json", str(figures)]) == 0
    printed = capsys.readouterr().out
    assert "2 rounds" in printed and re.search(r"img/s   x[\d.]+ \([\d.]+-[\d.]+\) naive", printed)
    assert "Judged by the truth: 2-fold grouped cross-validation" in printed
    assert "the rule's default (fastest with no loss):" in printed
    assert "Photo by photo" in printed and "the paired rule's default" in printed
    result = json.loads(figures.read_text())
    runtimes = {"torch fp32", "torch bf16", "onnxruntime fp32", "onnxruntime int8", "openvino fp32", "openvino bf16"}
    assert runtimes | {"openvino mixed", "openvino int8"} == set(result["truth"]) == set(result["speed"]["runtimes"])
    for report in result["truth"].values():
        assert report["pooled"]["photos"] == 12 * len(SHAPES)  # every photo measured once per runtime
        assert len(report["verdicts"]) == 12 * len(SHAPES) and all(
            k.startswith("held out/") for k in report["verdicts"]
        )
        assert {"mean", "std"} <= set(report["summary"]["macro_f1"])
    folds = [[set(fold["groups"]) for fold in report["folds"]] for report in result["truth"].values()]
    assert all(groups == folds[0] for groups in folds)  # the same held-out folds for every runtime
    assert np.isfinite(result["speed"]["naive"]) and result["speed"]["default"].startswith("openvino")
    assert [set(r["runtimes"]) for r in result["speed"]["rounds"]] == [set(result["speed"]["runtimes"])] * 2

    # the models a cross-validation kept are judged again without training, on the runtimes asked for
    kept = tmp_path / "folds"
    assert main(["evaluate", str(model), str(shapes_dir), "--cv", "2", "--keep-folds", str(kept)]) == 0
    again = tmp_path / "again.json"
    only = ["--folds-from", str(kept), "--runtimes", "openvino mixed", "--rounds", "1", "--json", str(again)]
    assert main(["bench", "--model", str(model), *truth, *only]) == 0
    judged = json.loads(again.read_text())["truth"]
    assert set(judged) == {"torch fp32", "openvino mixed"}
    assert [set(f["groups"]) for f in judged["torch fp32"]["folds"]] == folds[0]  # the same folds, not retrained
    # kept cross-validations given twice are repeats, pooled: every fold and every photo of both
    assert main(["bench", "--model", str(model), *truth, *only, "--folds-from", str(kept)]) == 0
    assert "Judged by the truth: 2 repeats of a 2-fold grouped cross-validation" in capsys.readouterr().out
    repeated = json.loads(again.read_text())["truth"]["openvino mixed"]
    assert repeated["repeats"] == 2 and [set(f["groups"]) for f in repeated["folds"]] == folds[0] * 2
    assert repeated["pooled"]["photos"] == 2 * 12 * len(SHAPES) == len(repeated["verdicts"])
    assert main(["bench", "--model", str(model), *truth, "--runtimes", "tensorrt fp16"]) == 2


def test_a_file_of_other_weights_is_refused_on_every_file_runtime(random_bundle, tmp_path):
    from core.model.bundle import BundleError
    from core.model.export import export_onnx

    other = export_onnx(random_bundle, tmp_path / "other.onnx")
    for backend in ("openvino", "onnxruntime", "auto"):
        with pytest.raises(BundleError, match="exported from other weights"):
            Engine(resolve_bundle(None), backend=backend, onnx_file=other)
