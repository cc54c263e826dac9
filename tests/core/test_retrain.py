"""Corrections as training data, retraining, the promotion gate, installing and rolling back versions."""

import json
import shutil

import pytest

from core.cli import main
from core.inference.runtime import users_runtime
from core.journal.corrections import load_photos, read_corrections
from core.journal.session import DO, RELABEL, UNDO, Edit, JournalWriter
from core.model.bundle import load_bundle
from core.model.promotion import active_versions, promote
from core.model.registry import find_bundles, resolve_bundle
from core.training.retrain import bump_version, hold_back
from tests.images import SHAPES, shape_image, zip_bytes


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Class folders of drawn shapes, a small model trained on them, and a second batch in a ZIP."""
    root = tmp_path_factory.mktemp("retrain")
    for index, kind in enumerate(SHAPES):
        (root / "data" / kind).mkdir(parents=True)
        for i in range(10):
            shape_image(kind, 100 * index + i).save(root / "data" / kind / f"{kind}_{i:02d}.png")
    batch = {
        f"day2/{kind}_{i}.png": _png(shape_image(kind, 1000 + 100 * n + i))
        for n, kind in enumerate(SHAPES)
        for i in range(6)
    }
    (root / "batch2.zip").write_bytes(zip_bytes(batch))
    code = main(
        [
            "train",
            str(root / "data"),
            "--out",
            str(root / "model"),
            "--name",
            "shapes",
            "--epochs",
            "2",
            "--image-size",
            "64",
            "64",
            "--batch-size",
            "8",
            "--seed",
            "1",
        ]
    )
    assert code == 0
    return root


def _png(image):
    from tests.images import encode

    return encode(image)


def _window_results(shapes, tmp_path, label_of):
    """A results.json as the window exports it, with ``label_of(true class)`` as the inspector's label."""
    document = {"items": []}
    for kind in SHAPES:
        for i in range(6):
            source = f"{shapes / 'batch2.zip'}!/day2/{kind}_{i}.png"
            document["items"].append({"source": source, "status": "ok", "label": "bar", "final_label": label_of(kind)})
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    return path


def test_corrections_from_every_kind_of_source_and_the_last_decision_wins(shapes, tmp_path):
    journal = JournalWriter(tmp_path / "journal.sqlite3")
    from core.inference.prediction import Prediction

    photo = Prediction(source=f"{shapes / 'batch2.zip'}!/day2/circle_0.png", name="circle_0.png", label="bar")
    journal.begin_session("s", "shapes", "1.0.0", "x")
    journal.add_edits(
        "s",
        ("shapes", "1.0.0", "x"),
        [
            Edit(RELABEL, DO, 1, photo, None, "square"),
            Edit(RELABEL, UNDO, 1, photo, "square", None),
            Edit(RELABEL, DO, 1, photo, None, "circle"),
        ],
    )
    journal.close()
    results = _window_results(shapes, tmp_path, lambda kind: kind)
    cli_results = tmp_path / "cli.json"
    cli_results.write_text(json.dumps({"items": [{"source": "x.png", "label": "bar"}]}))
    corrections, problems = read_corrections([tmp_path / "journal.sqlite3", results, shapes / "data", cli_results])
    assert len(corrections) == 1 + 18 + 30
    assert corrections[0].label == "circle" and corrections[0].event == 3  # the undo and redo were replayed
    assert problems == [
        f"{cli_results}: has no final_label column: export the results from the window, where inspectors decide"
    ]
    (tmp_path / "gone").mkdir()
    photos, unusable = load_photos(
        [
            *corrections,
            corrections[1].__class__("gone.png", "bar", "x"),
            corrections[1].__class__(corrections[1].source, "hexagon", "x"),
        ],
        list(SHAPES),
    )
    assert len(photos) == 48  # circle_0 came from the journal and again from results.json: counted once
    assert [p.correction.origin for p in photos if p.correction.source.endswith("circle_0.png")] == [str(results)]
    assert any("cannot be read" in u for u in unusable) and any("'hexagon' is not a class" in u for u in unusable)


def test_held_back_corrections_keep_groups_together(shapes, tmp_path):
    import re

    corrections, _ = read_corrections([_window_results(shapes, tmp_path, lambda kind: kind)])
    photos, _ = load_photos(corrections, list(SHAPES))
    held, used = hold_back(photos, re.compile(r"^([a-z]+)_"), seed=0)  # one group per class: all or nothing
    assert len(held) + len(used) == 18
    for kind in SHAPES:
        sides = {p in held for p in photos if p.correction.label == kind}
        assert len(sides) == 1
    assert bump_version("1.0.0") == "1.1.0" and bump_version("2.9") == "2.10.0"


@pytest.mark.slow
def test_retrain_writes_a_candidate_with_lineage_and_a_comparison(shapes, tmp_path, capsys):
    results = _window_results(shapes, tmp_path, lambda kind: kind)
    code = main(
        [
            "retrain",
            str(shapes / "model"),
            "--corrections",
            str(results),
            "--out",
            str(tmp_path / "new"),
            "--train-images",
            "20",
        ]
    )
    candidate = load_bundle(tmp_path / "new")
    comparison = json.loads((tmp_path / "new" / "comparison.json").read_text())
    assert code == (0 if candidate.promotion["passed"] else 3)
    assert candidate.version == "1.1.0" and candidate.classes == list(SHAPES)
    assert candidate.lineage["parent"]["version"] == "1.0.0" and sum(candidate.lineage["corrections"].values()) == 18
    assert comparison["frozen_holdout"]["photos"] == len(load_bundle(shapes / "model").training["split"]["validation"])
    assert comparison["held_back_corrections"]["photos"] == candidate.lineage["held_back"] > 0
    assert comparison["runtime"] == users_runtime()  # judged as the inspectors will run it
    counts = comparison["held_back_corrections"]["agreement"]["counts"]
    assert sum(counts.values()) == comparison["held_back_corrections"]["photos"]
    assert (tmp_path / "new" / "comparison.png").is_file()
    assert "Verdict:" in capsys.readouterr().out


@pytest.mark.slow
def test_a_retraining_replays_the_parents_sampling_where_its_model_json_predates_the_setting(shapes, tmp_path):
    parent = shutil.copytree(shapes / "model", tmp_path / "parent")
    record = json.loads((parent / "model.json").read_text())
    assert record["training"]["config"].pop("sampling") == "sqrt"  # trained before it was a setting: drawn equally
    (parent / "model.json").write_text(json.dumps(record))
    results = _window_results(shapes, tmp_path, lambda kind: kind)
    retrain = ["retrain", str(parent), "--corrections", str(results), "--out", str(tmp_path / "new")]
    assert main([*retrain, "--train-images", "20"]) in (0, 3)
    assert load_bundle(tmp_path / "new").training["config"]["sampling"] == "balanced"


@pytest.mark.slow
def test_wrong_corrections_are_refused_by_the_gate(shapes, tmp_path, capsys):
    wrong = _window_results(shapes, tmp_path, lambda kind: SHAPES[(SHAPES.index(kind) + 1) % 3])
    code = main(
        [
            "retrain",
            str(shapes / "model"),
            "--corrections",
            str(wrong),
            "--out",
            str(tmp_path / "bad"),
            "--train-images",
            "20",
            "--promote",
        ]
    )
    assert code == 3
    assert load_bundle(tmp_path / "bad").promotion["passed"] is False
    assert "NOT promoted" in capsys.readouterr().out and active_versions() == {}


def test_nothing_usable_is_a_clear_error(shapes, tmp_path, capsys):
    damaged = tmp_path / "journal.sqlite3"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 100)
    results = _window_results(shapes, tmp_path, lambda kind: "hexagon")
    code = main(
        ["retrain", str(shapes / "model"), "--corrections", str(damaged), str(results), "--out", str(tmp_path / "x")]
    )
    error = capsys.readouterr().err
    assert code == 2 and "no usable corrections" in error and "damaged or not a DefectSort journal" in error
    assert not (tmp_path / "x").exists()  # nothing trained, nothing written


def test_promote_installs_the_version_in_use_and_models_use_rolls_back(shapes, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEFECTSORT_MODELS", str(shapes))  # the bundled "shapes" 1.0.0 lives there
    parent = load_bundle(shapes / "model")
    candidate = load_bundle(shapes / "model")
    candidate.version, candidate.promotion = "1.1.0", {"passed": False}
    with pytest.raises(Exception, match="did not pass"):
        promote(candidate)
    candidate.promotion = {"passed": True}
    installed = promote(candidate)
    assert load_bundle(installed).promotion["promoted"] is True
    assert [(b.name, b.version) for b in find_bundles() if b.name == "shapes"] == [("shapes", "1.1.0")]
    assert main(["models", "--use", f"shapes@{parent.version}"]) == 0
    assert resolve_bundle("shapes").version == "1.0.0" and resolve_bundle("shapes@1.1.0").version == "1.1.0"
    listing = capsys.readouterr().out
    assert "* shapes 1.0.0" in listing and "  shapes 1.1.0" in listing
    assert main(["models", "--use", "shapes"]) == 2


def test_corrections_of_another_model_and_disagreeing_duplicates_are_said_and_the_rest_used(shapes, tmp_path):
    ours = _window_results(shapes, tmp_path, lambda kind: kind)
    document = json.loads(ours.read_text())
    document["model"] = {"name": "shapes", "version": "1.0.0"}
    ours.write_text(json.dumps(document))
    other = tmp_path / "castings.json"
    other.write_text(json.dumps({**document, "model": {"name": "castings", "version": "2.0.0"}}))
    changed_mind = tmp_path / "later.json"
    first = document["items"][0]  # bar_0, labelled bar: an inspector later says circle
    changed_mind.write_text(json.dumps({"model": document["model"], "items": [{**first, "final_label": "circle"}]}))
    corrections, problems = read_corrections([ours, other, changed_mind])
    photos, unusable = load_photos(corrections, list(SHAPES), "shapes")
    assert problems == [] and len(photos) == 18
    assert [p.correction.label for p in photos if p.correction.source == first["source"]] == ["circle"]
    assert unusable == [
        f"{first['source']}: labelled 'bar' in {ours} and 'circle' in {changed_mind}: the later label, 'circle', "
        "is used",
        f"{other}: 18 correction(s) made with the model 'castings', not 'shapes': left out",
    ]


def test_the_journal_names_the_model_each_correction_was_made_with(shapes, tmp_path):
    from core.inference.prediction import Prediction

    journal = JournalWriter(tmp_path / "journal.sqlite3")
    photo = Prediction(source=f"{shapes / 'batch2.zip'}!/day2/circle_0.png", name="circle_0.png", label="bar")
    for session, model in (("a", "shapes"), ("b", "castings")):
        journal.begin_session(session, model, "1.0.0", "x")
        journal.add_edits(session, (model, "1.0.0", "x"), [Edit(RELABEL, DO, 1, photo, None, "circle")])
    journal.close()
    corrections, _ = read_corrections([tmp_path / "journal.sqlite3"])
    assert [c.model for c in corrections] == ["shapes", "castings"]
    photos, unusable = load_photos(corrections, list(SHAPES), "shapes")
    assert len(photos) == 1 and unusable == [
        f"{tmp_path / 'journal.sqlite3'}: 1 correction(s) made with the model 'castings', not 'shapes': left out"
    ]


@pytest.mark.slow
def test_the_same_corrections_make_the_same_candidate_however_slow_the_computer(shapes, tmp_path, monkeypatch):
    """The amount of retraining is set by the data: a clock that runs 1000 times faster (a busy machine)
    changes nothing, and progress runs from 0 to 1 with an estimate of the time left."""
    import itertools

    import core.training.trainer as trainer
    from core.training.retrain import retrain

    results = _window_results(shapes, tmp_path, lambda kind: kind)
    parent = load_bundle(shapes / "model")
    progress: list[tuple[float, float | None]] = []
    quiet = retrain(
        parent,
        [results],
        tmp_path / "quiet",
        train_images=20,
        say=lambda _: None,
        on_progress=lambda done, left: progress.append((done, left)),
    )
    ticks = itertools.count(step=1000.0)
    monkeypatch.setattr(trainer.time, "monotonic", lambda: next(ticks))
    busy = retrain(parent, [results], tmp_path / "busy", train_images=20, say=lambda _: None)
    assert busy.bundle.sha256 == quiet.bundle.sha256 and busy.passed == quiet.passed
    assert busy.bundle.training["config"]["epochs"] == quiet.bundle.training["config"]["epochs"] >= 3
    fractions = [done for done, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and progress[-1][1] == 0.0


def test_a_retraining_that_only_wrecks_the_model_keeps_the_starting_weights(shapes):
    """The starting weights compete as epoch 0: with a step size that wrecks the network, no epoch beats them;
    unless the recipe keeps the last epoch."""
    from dataclasses import replace

    import torch

    from core.model.bundle import build_network
    from core.training.dataset import grouped_split, scan_dataset
    from core.training.trainer import TrainConfig, train

    parent = load_bundle(shapes / "model")
    net = build_network(parent)
    start = {k: v.clone() for k, v in net.model.state_dict().items()}
    _, samples = scan_dataset(shapes / "data", classes=parent.classes)
    train_set, val_set = grouped_split(samples, 0.3, 0)
    config = replace(
        TrainConfig(), image_size=(64, 64), epochs=2, batch_size=8, lr=1e4, start_competes=True, keep="best"
    )
    result = train(net, train_set, val_set, config, parent.mean, parent.std)
    assert result.best_epoch == 0
    assert all(torch.equal(start[k], v) for k, v in net.model.state_dict().items())

    # keep="last" chooses no epoch: the whole schedule runs (no early stopping) and its end is kept, worse or not
    config = replace(config, epochs=7, keep="last")
    result = train(net, train_set, val_set, config, parent.mean, parent.std)
    assert len(result.history) == result.best_epoch == 7 and result.stopped_because == "finished the planned epochs"
    assert not all(torch.equal(start[k], v) for k, v in net.model.state_dict().items())


def test_the_training_clock_counts_epochs_and_steps_and_scales_the_time_so_far():
    from core.training.eta import TrainingClock, describe_time_left

    now = [100.0]
    clock = TrainingClock(epochs=4, clock=lambda: now[0])
    assert clock.fraction() == 0.0 and clock.seconds_left() is None and describe_time_left(None) == ""
    now[0] += 30
    clock.on_step(5, 10)  # half of the first of 4 epochs in 30 s
    assert clock.fraction() == 0.125 and clock.seconds_left() == 210.0
    assert describe_time_left(clock.seconds_left()) == "about 4 min left"
    clock.on_epoch({"epoch": 1, "epochs_planned": 2})  # the run's own plan replaces the first guess
    assert clock.fraction() == 0.5 and clock.seconds_left() == 30.0
    assert describe_time_left(clock.seconds_left()) == "less than a minute left"
    clock.on_epoch({"epoch": 2, "epochs_planned": 2})
    assert clock.fraction() == 1.0 and clock.seconds_left() == 0.0


def test_a_retraining_draws_a_fixed_amount_of_work_and_passes_large_photos_in_pieces():
    from core.training.retrain import micro_batch, retrain_epochs

    assert retrain_epochs(180, (224, 224)) == 12  # 4000 images would be 22 epochs: at most 12
    assert retrain_epochs(98, (384, 672)) == 8  # a 384x672 photo counts 5.1 times
    assert retrain_epochs(5000, (224, 224)) == 3  # at least 3
    assert micro_batch((384, 672), 8) == (1, True)  # ~500 MB a photo: even one is recomputed
    assert micro_batch((224, 224), 32) == (3, False)  # 3.2 GB a batch: in pieces of 3
    assert micro_batch((288, 256), 9) == (0, False) and micro_batch((64, 64), 8) == (0, False)  # whole batches
