"""The honest protocol: grouped folds, a test split nothing touches, figures with their spread."""

import json
from collections import Counter
from pathlib import Path

import pytest

from core.cli import main
from core.inference.runtime import users_runtime
from core.model.bundle import load_bundle
from core.photos.conditions import CONDITIONS
from core.training.cross_validation import (
    classes_trained_without,
    format_spread,
    grouped_folds,
    pool_repeats,
    split_off_test,
    summarise,
)
from core.training.dataset import Sample
from tests.images import SHAPES, write_shapes

GROUP_BY = r"^([a-z]+_\d\d)"


def samples(groups_per_class: int = 6, photos_per_group: int = 3) -> list[Sample]:
    return [
        Sample(Path(f"{kind}_{g:02d}_{i}.png"), label, f"{kind}_{g:02d}")
        for label, kind in enumerate(SHAPES)
        for g in range(groups_per_class)
        for i in range(photos_per_group)
    ]


def test_folds_keep_groups_whole_use_every_photo_once_and_spread_each_class():
    everything = samples()
    folds = grouped_folds(everything, 3, seed=4)
    assert sorted(s.path for fold in folds for s in fold) == sorted(s.path for s in everything)
    homes = {s.group: i for i, fold in enumerate(folds) for s in fold}
    assert all(homes[s.group] == i for i, fold in enumerate(folds) for s in fold)  # no group in two folds
    for fold in folds:  # 6 groups of each class over 3 folds: 2 each
        assert Counter(s.label for s in fold) == {0: 6, 1: 6, 2: 6}


def test_a_fold_holding_every_group_of_a_class_is_named():
    """A class of two phones in three folds: wherever both phones land together, that fold's model never sees it."""
    rare = [s for s in samples(groups_per_class=2) if s.label == 1]
    common = [s for s in samples(groups_per_class=6) if s.label != 1]
    folds = [common[:12] + rare, common[12:24], common[24:]]  # both rare phones held out together
    assert classes_trained_without(folds, list(SHAPES)) == [
        f"fold 1/3 holds every photo of '{SHAPES[1]}' (2 groups): its model trains without that class "
        "(more groups of it, or fewer folds, would avoid this)"
    ]
    folds = [common[:12] + rare[:3], common[12:24] + rare[3:], common[24:]]  # one phone each: both folds see it
    assert classes_trained_without(folds, list(SHAPES)) == []
    assert classes_trained_without(grouped_folds(samples(), 3, seed=4), list(SHAPES)) == []


def test_too_few_groups_is_a_clear_error():
    with pytest.raises(ValueError, match="needs at least 5 groups"):
        grouped_folds(samples(groups_per_class=1), 5, seed=0)


def test_the_test_split_takes_whole_groups_of_every_class():
    rest, test = split_off_test(samples(), 0.34, seed=0)
    assert Counter(s.label for s in test) == {0: 6, 1: 6, 2: 6}
    assert not {s.group for s in rest} & {s.group for s in test}
    assert split_off_test(samples(), 0.0, seed=0) == (samples(), [])


def test_the_spread_is_the_folds_standard_deviation():
    summary = summarise([{"macro_f1": 0.8, "review_share": None}, {"macro_f1": 1.0, "review_share": 0.1}])
    assert summary["macro_f1"] == {"mean": 0.9, "std": 0.1414, "min": 0.8, "max": 1.0, "folds": 2}
    assert summary["review_share"]["folds"] == 1 and "pointing" not in summary
    assert format_spread(summary["macro_f1"]) == "0.900 ± 0.141 (0.800-1.000)"


def _repeat(f1: list[float], dark_f1: list[float], photos: int, right: int, verdict: list[bool]) -> dict:
    rows = [
        {"macro_f1": f, "conditions": [{"condition": c.name, "macro_f1": d} for c in CONDITIONS]}
        for f, d in zip(f1, dark_f1, strict=True)
    ]
    pooled = {"photos": photos, "right": right, "reviewed": 1, "accepted": photos - 1, "accepted_right": right - 1}
    return {"k": 2, "folds": rows, "pooled": pooled, "verdicts": {"held out/a.jpg": verdict}}


def test_repeats_pool_into_one_report_over_every_fold_and_photo():
    """Two cross-validations of the same photos: the spread is over all four folds (one repeat's two perfect
    folds alone would have none), the workload over every photo measured, and each photo keeps one verdict per
    repeat."""
    first = _repeat([1.0, 1.0], [1.0, 0.9], photos=10, right=9, verdict=[True, False, False, False])
    second = _repeat([0.9, 1.0], [0.8, 1.0], photos=10, right=10, verdict=[False, True, False, False])
    pooled = pool_repeats([first, second])
    assert pooled["repeats"] == 2 and pooled["k"] == 2 and len(pooled["folds"]) == 4
    assert pooled["summary"]["macro_f1"] == summarise([{"macro_f1": f} for f in (1.0, 1.0, 0.9, 1.0)])["macro_f1"]
    assert pooled["summary"]["macro_f1"]["std"] > 0 == summarise(first["folds"])["macro_f1"]["std"]
    assert pooled["conditions"]["darker"]["macro_f1"]["folds"] == 4
    assert pooled["pooled"] == {
        "photos": 20, "right": 19, "reviewed": 2, "accuracy": 0.95, "review_share": 0.1,
        "accepted": 18, "accepted_right": 17, "accepted_accuracy": 0.9444,
    }  # fmt: skip
    assert pooled["verdicts"] == {"held out/a.jpg #1": first["verdicts"]["held out/a.jpg"],
                                  "held out/a.jpg #2": second["verdicts"]["held out/a.jpg"]}  # fmt: skip


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    return write_shapes(tmp_path_factory.mktemp("cv-shapes"), per_class=12)


TINY = ["--epochs", "1", "--image-size", "48", "48", "--batch-size", "8", "--group-by", GROUP_BY, "--seed", "2"]


@pytest.mark.slow
def test_train_cross_validates_then_trains_without_the_test_split(shapes_dir, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["train", str(shapes_dir), "--out", str(out), "--cv", "2", "--test-share", "0.2", *TINY]) == 0
    printed = capsys.readouterr().out
    users = users_runtime()
    assert f"2-fold grouped cross-validation on {users}," in printed and " ± " in printed
    bundle = load_bundle(out)
    test = set(bundle.training["split"]["test"])
    trained_on = set(bundle.training["split"]["train"]) | set(bundle.training["split"]["validation"])
    assert test and not test & trained_on and len(test | trained_on) == 36  # every photo, once
    report = bundle.metrics["cross_validation"]
    assert [fold["fold"] for fold in report["folds"]] == [1, 2]
    assert sum(fold["photos"] for fold in report["folds"]) == report["pooled"]["photos"] == 36 - len(test)
    fold_groups = [set(fold["groups"]) for fold in report["folds"]]
    assert not fold_groups[0] & fold_groups[1]
    assert not (fold_groups[0] | fold_groups[1]) & set(bundle.metrics["test"]["groups"])
    assert {"mean", "std", "min", "max"} <= set(report["summary"]["macro_f1"])
    pooled = report["pooled"]
    assert pooled["accepted"] == round(pooled["photos"] * (1 - pooled["review_share"]))
    assert bundle.metrics["test"]["photos"] == len(test)
    assert report["runtime"] == bundle.metrics["test"]["runtime"] == users  # as users will run it

    # evaluate --cv replays the recipe from model.json on the same folds, and keeps the folds' models when asked
    figures, kept = tmp_path / "cv.json", tmp_path / "folds"
    protocol = ["--cv", "2", "--test-share", "0.2", "--keep-folds", str(kept)]
    assert main(["evaluate", str(out), str(shapes_dir), *protocol, "--json", str(figures)]) == 0
    again = json.loads(figures.read_text())["cross_validation"]
    assert [set(fold["groups"]) for fold in again["folds"]] == fold_groups
    assert again["runtime"] == users  # evaluate's default (--backend auto): the same runtime as train's
    for number, held_out in enumerate(fold_groups, start=1):
        split = load_bundle(kept / f"fold-{number}").training["split"]
        assert not {name.rsplit("_", 1)[0] for name in split["train"] + split["validation"]} & held_out
    # folds dealt after a test split are not the folds of a run without one: refused, not measured as if they were
    capsys.readouterr()
    assert main(["bench", "--model", str(out), "--truth", str(shapes_dir), "--cv", "2", "--folds-from", str(kept)]) == 2
    assert "not a fold of this run" in capsys.readouterr().out
    # kept folds are not written over by the next run given the same folder: refused before any training
    weights = (kept / "fold-1" / "weights.safetensors").read_bytes()
    assert main(["evaluate", str(out), str(shapes_dir), *protocol]) == 2
    assert f"{kept} already holds the models of 2 folds" in capsys.readouterr().err
    assert (kept / "fold-1" / "weights.safetensors").read_bytes() == weights


def test_evaluate_cv_of_a_model_without_a_recipe_is_a_clear_error(random_bundle, shapes_dir, capsys):
    assert main(["evaluate", str(random_bundle.folder), str(shapes_dir), "--cv", "2"]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_each_fold_is_measured_with_the_anomaly_head_the_model_ships_with(tmp_path, monkeypatch):
    from core.training.anomaly import head_fit
    from tests.images import write_screens

    measured = []  # the drift baseline: measured once per model, with its head (not once before it too)
    baseline = head_fit.validation_baseline
    monkeypatch.setattr(head_fit, "validation_baseline", lambda *a: measured.append(a) or baseline(*a))
    monkeypatch.setattr("core.training.pipeline.validation_baseline", head_fit.validation_baseline)
    data = write_screens(tmp_path / "screens")
    out = tmp_path / "model"
    arguments = ["--epochs", "1", "--image-size", "64", "96", "--batch-size", "8", "--group-by", GROUP_BY]
    assert main(["train", str(data), "--out", str(out), "--cv", "2", "--anomaly-head", *arguments]) == 0
    bundle = load_bundle(out)
    assert bundle.anomaly_head and "copies of each as other cameras take them" in bundle.anomaly_head["fitted_on"]
    assert len(measured) == 3 and bundle.baseline  # two fold models and the model itself
    folds = bundle.metrics["cross_validation"]["folds"]
    assert all(fold["anomaly_auroc"] is not None and fold["anomaly_false_alarms"] is not None for fold in folds)


def test_the_spread_takes_a_runtimes_numpy_scalars():
    import numpy as np

    summary = summarise([{"ece": np.float32(0.02)}, {"ece": 0.04}])  # float32 outputs give NumPy scalars
    assert summary["ece"]["mean"] == pytest.approx(0.03) and isinstance(summary["ece"]["std"], float)
    undefined = summarise([{"anomaly_auroc": float("nan"), "ece": 0.1}, {"anomaly_auroc": 0.9, "ece": 0.2}])
    assert undefined["anomaly_auroc"]["folds"] == 1 and undefined["ece"]["folds"] == 2  # a NaN is not a figure


def test_a_runtime_without_anomaly_scores_has_no_auroc():
    from types import SimpleNamespace

    from core.training.trust_metrics import anomaly_report

    unscored = [SimpleNamespace(ok=True, anomaly_score=None)] * 4  # an int8 file carries no anomaly head
    assert anomaly_report(unscored, ["good", "good", "oil", "oil"], 30.0)["auroc"] is None


def test_a_recipe_recorded_before_a_setting_existed_is_measured_as_it_was_trained():
    """Cross-validating an older bundle repeats its recipe: the best epoch kept (the default then), no decode
    variation or defect synthesis; a recipe that records them keeps what it recorded."""
    from core.model.bundle import Bundle
    from core.training.protocol import recipe_of
    from core.training.trainer import settings_as_trained

    def recorded(config: dict) -> Bundle:
        return Bundle(
            name="m",
            arch="mobilenet_v2",
            classes=["good", "scratch"],
            input_size=[64, 64],
            training={"config": {"image_size": [64, 64], **config}},
        )

    old, _, _ = recipe_of(recorded({}))
    assert (old.keep, old.decode_variation, old.defect_synthesis, old.sampling) == ("best", False, False, "balanced")
    new, _, _ = recipe_of(recorded({"keep": "last", "decode_variation": True}))
    assert (new.keep, new.decode_variation) == ("last", True)
    assert settings_as_trained({}) == {}  # nothing recorded (an imported model): nothing to replay, today's defaults


def test_train_keeps_the_whole_schedule_unless_told_to_choose_an_epoch():
    import argparse

    from core.cli.train import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(), "train")
    assert parser.parse_args(["train", "data", "--out", "m"]).keep == "last"
    assert parser.parse_args(["train", "data", "--out", "m"]).sampling == "sqrt"
    assert parser.parse_args(["train", "data", "--out", "m", "--keep", "best"]).keep == "best"
