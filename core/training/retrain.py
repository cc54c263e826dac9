"""Turn the inspectors' corrections into a candidate model, and measure it against its parent.

The corrections (see :mod:`core.journal.corrections`) are split: a share is held back for the
gate, the rest joins the base data (the parent's training folder and masks, or ``--data``) in a
temporary training folder. The candidate starts from the parent's weights and keeps what the
parent knew:

* it trains on the parent's photos *and* the corrections, each correction drawn
  :data:`CORRECTION_WEIGHT` times as often as a photo of its class, so a handful of corrections moves
  the model a little;
* without the parent's photos it fine-tunes on the corrections alone (and says so); then the parent's
  weights compete as epoch 0, judged on corrections neither has trained on, and a candidate that no
  epoch makes better stays the parent (with its photos, validation holds photos the parent trained on,
  which would favour it);
* the amount of training is fixed by the data (:func:`retrain_epochs`), never by the clock: a busy
  machine retrains more slowly, not into a different model, so the gate's verdict does not
  depend on the load;
* a batch small enough trains whole at the parent's learning rate; a larger one (the phone model's
  384x672 photos) passes the network in pieces within :data:`TRAINING_MEMORY_MB`, BatchNorm keeping the
  parent's statistics, at :data:`FINE_TUNE_LR_SCALE` of its rate (:func:`micro_batch`; large inputs also
  recompute activations in the backward pass), so a retraining beside the window stays within about a
  gigabyte.

The parent's own validation photos never enter training: with ``--holdout`` photos they are the
frozen holdout of :mod:`core.training.gate`. The candidate records its lineage in ``model.json``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from core.inference.decision import normal_class_of
from core.journal.corrections import LabelledPhoto, load_photos, read_corrections
from core.model.bundle import Bundle, write_metadata
from core.training import gate
from core.training.anomaly.head_fit import HeadSettings, fit_anomaly_head
from core.training.dataset import scan_dataset, take_share
from core.training.eta import TrainingClock
from core.training.pipeline import train_bundle
from core.training.trainer import TrainConfig, settings_as_trained

FINE_TUNE_LR_SCALE = 0.3  # with BatchNorm frozen, smaller steps than the parent's (measured: see README)
CORRECTION_WEIGHT = 3.0  # a correction is drawn this many times as often as a base photo of its class
RETRAIN_IMAGES = 4000  # training images drawn, counted at 224x224 (a 384x672 photo counts 5.1)
RETRAIN_EPOCHS = (3, 12)  # at least, at most
VALIDATION_SHARE = 0.25  # of the training folder: chooses the epoch, the Review and unknown thresholds
WHOLE_BATCH_MB = 1500  # a batch whose activations fit trains whole, BatchNorm learning, at the parent's rate
TRAINING_MEMORY_MB = 400  # else pieces this large, BatchNorm frozen: a retraining beside the window stays ~1 GB
ACTIVATION_MB_PER_MEGAPIXEL = 2000  # mobilenet_v2, forward and backward (measured: ~500 MB a 384x672 photo)


@dataclass
class RetrainOutcome:
    """The candidate bundle, how it compares with its parent, and what could not be used.

    :param reasons: the gate's conditions, one sentence each (for engineers)
    :param headline: the verdict in one sentence for the inspector
    """

    bundle: Bundle
    comparison: dict
    passed: bool
    reasons: list[str]
    headline: str = ""
    problems: list[str] = field(default_factory=list)


def retrain(
    parent: Bundle,
    correction_sources: list[Path],
    out_dir: Path,
    *,
    base_data: Path | None = None,
    holdout_dir: Path | None = None,
    train_images: float = RETRAIN_IMAGES,
    seed: int = 0,
    say: Callable[[str], None] = print,
    on_epoch: Callable[[dict], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
    on_progress: Callable[[float, float | None], None] | None = None,
) -> RetrainOutcome:
    """Retrain ``parent`` with corrections, write the candidate bundle and its comparison.

    :param correction_sources: journal, results files or class folders (see :mod:`core.journal.corrections`)
    :param out_dir: the candidate bundle's folder
    :param base_data: class folders to train on besides the corrections (default: the parent's training data)
    :param holdout_dir: more class folders for the frozen holdout
    :param train_images: training images to draw, counted at 224x224 (see :func:`retrain_epochs`)
    :param on_progress: receives the share of training done (0..1) and the estimated seconds left (or None)
    :raises ValueError: no usable corrections, or nothing to train on
    """
    corrections, problems = read_corrections(correction_sources)
    photos, unusable = load_photos(corrections, parent.classes, parent.name)
    problems += unusable
    if not photos:
        raise ValueError("no usable corrections" + (f": {problems[0]}" if problems else ""))
    counts = Counter(photo.correction.label for photo in photos)
    say(
        f"{len(photos)} corrected photos ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}); "
        f"{len(problems)} problem(s)."
    )
    if len(counts) == 1:
        say(f"Note: every correction says '{next(iter(counts))}'; the gate decides whether that helps.")
    base = base_data or _recorded_folder(parent, "data")
    masks = _recorded_folder(parent, "masks") if base and not base_data else None
    say(
        f"Base data: {base}" + (f" (masks: {masks})" if masks else "")
        if base
        else "The model's training photos are not on this computer: fine-tuning on the corrections alone, "
        "which can move the model further than the corrections warrant (the gate judges it)."
    )
    held, used = hold_back(photos, _group_pattern(parent), seed)
    with tempfile.TemporaryDirectory(prefix="defectsort-retrain-") as scratch:
        train_dir, held_dir = Path(scratch, "train"), Path(scratch, "held")
        frozen = _assemble(parent, base, train_dir)
        emphasis = {path.name: CORRECTION_WEIGHT for path, _ in _write_photos(used, train_dir)}
        frozen += _class_photos(holdout_dir, parent.classes) if holdout_dir else []
        held_photos = _write_photos(held, held_dir)
        say(
            f"Training on {sum(1 for _ in train_dir.rglob('*.*'))} photos; frozen holdout {len(frozen)}, "
            f"held-back corrections {len(held_photos)}."
        )
        callbacks = _Callbacks(on_epoch, on_step, on_progress)
        head_photos = base if parent.anomaly_head else None  # its refit measures the drift baseline, with it
        candidate = _train(
            parent,
            train_dir,
            masks,
            out_dir,
            train_images,
            emphasis,
            seed,
            say,
            callbacks,
            rehearsed=base is not None,
            baseline=head_photos is None,
        )
        if head_photos is not None:
            _refit_anomaly_head(parent, candidate, head_photos, masks, say)
        say("Comparing the candidate with the current model on photos neither trained on…")
        comparison = gate.compare(parent, candidate, {gate.FROZEN: frozen, gate.CORRECTIONS: held_photos})
    _name_by_source(
        comparison[gate.CORRECTIONS],
        {str(path): p.correction.source for (path, _), p in zip(held_photos, held, strict=True)},
    )
    passed, reasons, headline = gate.judge(comparison)
    candidate.lineage = _lineage(parent, photos, held, correction_sources)
    candidate.severity = dict(parent.severity)  # the business rule does not change with the weights
    candidate.promotion = {
        "rule": gate.RULE,
        "passed": passed,
        "reasons": reasons,
        "in_words": headline,
        "promoted": False,
    }
    write_metadata(candidate)
    gate.write_comparison(candidate.weights_path.parent, comparison)
    return RetrainOutcome(candidate, comparison, passed, reasons, headline, problems)


def hold_back(photos: list[LabelledPhoto], group: re.Pattern | None, seed: int) -> tuple[list, list]:
    """Keep a share of each class's corrections out of training; photos of one group (one phone) stay together.

    :returns: ``(held back, used for training)``
    """

    def group_of(photo: LabelledPhoto) -> str:
        name = PurePosixPath(photo.correction.source.replace("\\", "/")).name
        match = group.search(name) if group else None
        return match.group(match.lastindex or 0) if match else photo.sha256

    return take_share(photos, group_of, lambda photo: photo.correction.label, gate.HOLD_BACK_SHARE, seed)


def bump_version(version: str) -> str:
    """Return the next minor version (``1.0.0`` -> ``1.1.0``)."""
    major, minor = (int(p) if p.isdigit() else 0 for p in [*version.split("."), "0"][:2])
    return f"{major}.{minor + 1}.0"


def retrain_epochs(train_photos: int, input_size: tuple[int, int], train_images: float = RETRAIN_IMAGES) -> int:
    """Return the epochs of a retraining: ``train_images`` images at 224x224 (larger inputs count for more),
    within :data:`RETRAIN_EPOCHS`. Depends on the data alone, so the same corrections give the same model
    on a quiet or a busy machine.

    :param train_photos: photos in the training split
    :param input_size: ``(height, width)`` of the model's input
    """
    cost = input_size[0] * input_size[1] / (224 * 224)
    low, high = RETRAIN_EPOCHS
    return max(low, min(high, round(train_images / (max(1, train_photos) * cost))))


def micro_batch(input_size: tuple[int, int], batch: int) -> tuple[int, bool]:
    """Return the photos a retraining passes through the network at once, and whether their activations are
    recomputed in the backward pass.

    A batch whose activations fit :data:`WHOLE_BATCH_MB` goes whole (0: BatchNorm keeps learning). A larger one
    goes in pieces within :data:`TRAINING_MEMORY_MB` (gradients add up to the whole batch; BatchNorm is frozen,
    so the result is the same), recomputed when even one photo does not fit.
    """
    per_photo = input_size[0] * input_size[1] / 1e6 * ACTIVATION_MB_PER_MEGAPIXEL
    if batch * per_photo <= WHOLE_BATCH_MB:
        return 0, False
    return max(1, min(batch, int(TRAINING_MEMORY_MB // per_photo))), per_photo > TRAINING_MEMORY_MB


def _recorded_folder(parent: Bundle, key: str) -> Path | None:
    """The folder the parent's ``training[key]`` names, looked for as given, beside the repository and the bundle."""
    recorded = parent.training.get(key)
    if not recorded:
        return None
    folder = parent.weights_path.parent
    for candidate in (Path(recorded), folder.parent.parent / recorded, folder / recorded):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _group_pattern(parent: Bundle) -> re.Pattern | None:
    group_by = parent.training.get("group_by")
    return re.compile(group_by) if group_by else None


def _assemble(parent: Bundle, base: Path | None, train_dir: Path) -> gate.Labelled:
    """Fill ``train_dir`` with base photos, except the parent's validation photos.

    :returns: the parent's validation photos, the frozen holdout
    """
    validation = set(parent.training.get("split", {}).get("validation", []))
    frozen: gate.Labelled = []
    for path, label in _class_photos(base, parent.classes) if base else []:
        if path.name in validation:
            frozen.append((path, label))
        else:
            (train_dir / label).mkdir(parents=True, exist_ok=True)
            _link_or_copy(path, train_dir / label / path.name)
    return frozen


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # no second copy of a large training set where the file system allows it
    except OSError:
        shutil.copy2(source, target)


def _class_photos(folder: Path, classes: list[str]) -> gate.Labelled:
    names, samples = scan_dataset(folder, classes=classes)
    return [(sample.path, names[sample.label]) for sample in samples]


def _write_photos(photos: list[LabelledPhoto], folder: Path) -> gate.Labelled:
    written = []
    for photo in photos:
        suffix = PurePosixPath(photo.correction.source.replace("\\", "/")).suffix.lower() or ".jpg"
        path = folder / photo.correction.label / f"correction_{photo.sha256[:16]}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(photo.data)
        written.append((path, photo.correction.label))
    return written


def _train(
    parent: Bundle,
    train_dir: Path,
    masks_dir: Path | None,
    out_dir: Path,
    train_images: float,
    emphasis: dict[str, float],
    seed: int,
    say: Callable[[str], None],
    callbacks: _Callbacks,
    rehearsed: bool,
    baseline: bool = True,
) -> Bundle:
    recorded = settings_as_trained(parent.training.get("config", {}))  # the parent's recipe, as it was trained
    photos = len(_class_photos(train_dir, parent.classes))
    size = (parent.input_size[0], parent.input_size[1])
    pieces, recompute = micro_batch(size, recorded.get("batch_size", TrainConfig.batch_size))
    epochs = retrain_epochs(round(photos * (1 - VALIDATION_SHARE)), size, train_images)
    say(
        f"Retraining for {epochs} epochs, from the current model's weights (the amount of training is set by the "
        "data, not the clock: a busy computer takes longer, it does not make a different model)."
    )
    callbacks.start(epochs)
    config = TrainConfig(
        **{
            **recorded,
            "image_size": size,
            "fit": parent.fit,
            "time_budget_s": 0,  # no clock: the epochs above are the whole plan
            "epochs": epochs,
            "lr": recorded.get("lr", TrainConfig.lr) * (FINE_TUNE_LR_SCALE if pieces else 1.0),
            "seed": seed,
            "choose": (),  # the parent's input size, fit and batch stay
            "start_competes": not rehearsed,
            "freeze_batchnorm": pieces > 0,
            "micro_batch": pieces,
            "recompute": recompute,
        }
    )
    candidate = train_bundle(
        train_dir,
        out_dir,
        config,
        pretrained=parent.weights_path,
        val_fraction=VALIDATION_SHARE,
        masks_dir=masks_dir,
        name=parent.name,
        subject=parent.subject,
        normal_class=normal_class_of(parent),
        classes=parent.classes,
        group_by=parent.training.get("group_by"),
        description=parent.description,
        emphasis=emphasis,
        min_per_class=1,  # a handful of corrections may train; the gate judges what came of it
        baseline=baseline,
        say=say,
        on_epoch=callbacks.epoch_done,
        on_step=callbacks.step_done,
    )
    candidate.version = bump_version(parent.version)
    return candidate


def _refit_anomaly_head(parent: Bundle, candidate: Bundle, base: Path, masks: Path | None, say) -> None:
    """Fit the parent's anomaly head again on the candidate's features: the same photos (the parent's split of
    its training data) and settings."""
    head = parent.anomaly_head
    say("Fitting the anomaly head (defects of no class) again on the new weights…")
    try:
        fit_anomaly_head(
            candidate,
            base,
            masks,
            HeadSettings.of(head),
            say=say,
            split=parent.training.get("split"),
        )
    except ValueError as error:
        say(f"The candidate has no anomaly head: {error}")


@dataclass
class _Callbacks:
    """The caller's training callbacks, and the progress (share done, time left) worked out from them."""

    on_epoch: Callable[[dict], None] | None
    on_step: Callable[[int, int], None] | None
    on_progress: Callable[[float, float | None], None] | None
    clock: TrainingClock | None = None  # set once the epochs are known

    def start(self, epochs: int) -> None:
        self.clock = TrainingClock(epochs)

    def step_done(self, step: int, steps: int) -> None:
        assert self.clock is not None
        self.clock.on_step(step, steps)
        if self.on_step:
            self.on_step(step, steps)
        self._progressed()

    def epoch_done(self, record: dict) -> None:
        assert self.clock is not None
        self.clock.on_epoch(record)
        if self.on_epoch:
            self.on_epoch(record)
        self._progressed()

    def _progressed(self) -> None:
        if self.on_progress and self.clock is not None:
            self.on_progress(self.clock.fraction(), self.clock.seconds_left())


def _name_by_source(part: dict, sources: dict[str, str]) -> None:
    """Name the fixed and broken held-back corrections by where the inspector saw them, not by their
    temporary copies."""
    for key in ("fixed", "broken"):
        for photo in part.get("agreement", {}).get(key, []):
            photo["source"] = sources.get(photo["source"], photo["source"])


def _lineage(parent: Bundle, photos: list[LabelledPhoto], held: list[LabelledPhoto], sources: list[Path]) -> dict:
    events = sorted(p.correction.event for p in photos if p.correction.event is not None)
    return {
        "parent": {"name": parent.name, "version": parent.version, "sha256": parent.sha256},
        "corrections": dict(sorted(Counter(p.correction.label for p in photos).items())),
        "held_back": len(held),
        "sources": [str(s) for s in sources],
        "journal_events": events,
        "date": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
    }
