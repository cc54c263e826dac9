"""How an anomaly model looks at the photos (input size and fit), chosen by a check that needs good photos only.

A frozen backbone sees what its input keeps: a hairline on a 600-px photo squeezed into 224x224 is a
fifth of a pixel wide, and a 1:2.4 crop stretched square is no longer the shape of its surface. So
the input is a choice, and the data decides it:

* candidates (:func:`candidate_inputs`): the square 224x224 stretch of before, and the photos' own shape
  (median aspect, padded when the shapes differ) at long sides from 224 px up to the photos' own, at most
  :data:`MAX_SIDE`;
* each is built on a sample of the bank photos and scored on held-out good photos, as they are and with a
  defect drawn on them at their own resolution (:mod:`core.training.anomaly.synthetic`): the image AUROC of
  clean against drawn;
* the input of before stays unless another is clearly better: its AUROC above before's in
  :data:`CONFIDENCE` of paired bootstrap resamples of the held-out photos (the same photos and the same drawn
  defects under every candidate, so the photos' own difficulty cancels out). Among those that are, the smallest
  not clearly worse than the best wins: a larger input costs time on every photo. A candidate whose full build
  would not fit the time budget is not checked.

Known defect photos (``defect/``) never take part: they measure the chosen model and only that.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.inference.engine import model_input
from core.model.anomaly.patches import PatchEmbedder
from core.model.bundle import Bundle
from core.model.novelty import auroc
from core.photos.decode import PAD_COLOUR, DecodeError, fit_to_input, open_upright
from core.training.anomaly.build import build_bank, image_scores
from core.training.anomaly.synthetic import KINDS, draw_defect
from core.training.data_profile import photo_upright_size
from core.training.plan import PAD_SPREAD, input_shape, round_to_step

BEFORE = ((224, 224), "stretch")  # the fixed input of every anomaly model before the choice
MIN_SIDE, MAX_SIDE = 224, 448
CHECK_BANK, CHECK_HELD = 120, 30  # photos a candidate is built on, and held-out photos it is scored on
CONFIDENCE = 0.95  # share of bootstrap resamples in which a candidate must beat another to be clearly better
RESAMPLES = 400
SHAPE_SAMPLE = 400  # photos whose headers say the shapes


@dataclass(frozen=True)
class AnomalyInput:
    """The model input: ``(height, width)`` and ``stretch`` or ``pad``."""

    size: tuple[int, int]
    fit: str

    def describe(self) -> str:
        return f"{self.size[0]}x{self.size[1]} {self.fit}"


@dataclass(frozen=True)
class InputCheck:
    """One candidate's check: the held-out photos' scores as they are (``N``) and drawn on (``N x kinds``).

    :param seconds: how long the check took (its build and its scoring)
    """

    candidate: AnomalyInput
    clean: np.ndarray
    drawn: np.ndarray
    seconds: float

    @property
    def auroc(self) -> float:
        """Return the image AUROC of clean against drawn, all kinds together."""
        return round(auroc(self.clean, self.drawn.ravel()), 3)

    @property
    def per_kind(self) -> dict[str, float]:
        return {kind: round(auroc(self.clean, self.drawn[:, index]), 3) for index, kind in enumerate(KINDS)}

    def to_json(self) -> dict:
        return {
            "input": self.candidate.describe(),
            "auroc": self.auroc,
            "per_kind": self.per_kind,
            "seconds": round(self.seconds, 1),
        }


def clearly_better(check: InputCheck, other: InputCheck, seed: int = 0) -> bool:
    """Whether ``check``'s AUROC is above ``other``'s in :data:`CONFIDENCE` of :data:`RESAMPLES` bootstrap
    resamples of the held-out photos (both checks scored the same photos, in the same order)."""
    rng = np.random.default_rng(seed)
    count, wins = len(check.clean), 0
    for _ in range(RESAMPLES):
        photos = rng.integers(0, count, count)
        ours = auroc(check.clean[photos], check.drawn[photos].ravel())
        theirs = auroc(other.clean[photos], other.drawn[photos].ravel())
        wins += ours > theirs
    return wins >= CONFIDENCE * RESAMPLES


def candidate_inputs(photos: list[Path]) -> list[AnomalyInput]:
    """Return the inputs worth checking for these photos, smallest first: the square input of before, and the
    photos' median shape at long sides from :data:`MIN_SIDE` to their median long side (at most :data:`MAX_SIDE`)."""
    sample = photos[:: max(1, len(photos) // SHAPE_SAMPLE)]
    sizes = [size for size in map(photo_upright_size, sample) if size and all(size)]
    if not sizes:
        return [AnomalyInput(*BEFORE)]
    aspects = np.array([width / height for width, height in sizes])
    low, high = np.percentile(aspects, [5, 95])
    fit = "pad" if high / low > PAD_SPREAD else "stretch"
    aspect = min(2.0, max(0.5, float(np.median(aspects))))
    native = max(MIN_SIDE, min(MAX_SIDE, round_to_step(float(np.median([max(size) for size in sizes])))))
    sides = sorted({MIN_SIDE, min(native, 320), native})
    candidates = [AnomalyInput(*BEFORE)] + [AnomalyInput(input_shape(side, aspect), fit) for side in sides]
    return sorted(set(candidates), key=lambda candidate: (candidate.size[0] * candidate.size[1], candidate.fit))


def choose_input(
    model: torch.nn.Module,
    arch: str,
    bank_photos: list[Path],
    held_photos: list[Path],
    budget_s: float,
    say,
    coreset_fraction: float = 0.1,
    seed: int = 0,
) -> tuple[AnomalyInput, dict]:
    """Check every candidate input (:func:`candidate_inputs`) and choose one.

    :param model: the frozen backbone
    :param bank_photos: good photos the bank is built from (a sample of :data:`CHECK_BANK` is used)
    :param held_photos: good photos held out from the bank (at most :data:`CHECK_HELD` are shown with drawn defects)
    :param budget_s: seconds the whole build may take; a candidate whose full build would not fit is not checked
    :param say: receives a line per candidate and the choice
    :param coreset_fraction: as the build's (:class:`core.training.anomaly.build.AnomalyConfig`)
    :returns: the chosen input and ``{"value", "reason", "checks"}`` for model.json
    """
    rng = random.Random(seed)
    bank_sample = rng.sample(bank_photos, min(CHECK_BANK, len(bank_photos)))
    held_sample = rng.sample(held_photos, min(CHECK_HELD, len(held_photos)))
    embedder = PatchEmbedder(model, arch).eval()
    started, checks = time.monotonic(), list[InputCheck]()
    for candidate in candidate_inputs(bank_photos):
        if checks and _over_budget(checks[-1], candidate, len(bank_photos), budget_s, time.monotonic() - started):
            say(f"Input {candidate.describe()}: not checked, its build would not fit the budget.")
            break
        check_started = time.monotonic()
        bank = build_bank(_embed_paths(embedder, bank_sample, candidate), coreset_fraction, seed, lambda _line: None)
        clean, drawn = _held_out_scores(embedder, held_sample, candidate, bank, seed)
        check = InputCheck(candidate, clean, drawn, time.monotonic() - check_started)
        checks.append(check)
        say(
            f"Input {candidate.describe()}: drawn-defect AUROC {check.auroc:.3f} "
            f"({', '.join(f'{k} {v:.2f}' for k, v in check.per_kind.items())}), checked in {check.seconds:.0f} s."
        )
    chosen = _choose(checks)
    before = f"{BEFORE[0][0]}x{BEFORE[0][1]} {BEFORE[1]}"
    reason = f"drawn-defect AUROC {chosen.auroc:.3f} on {len(held_sample)} held-out good photos, " + (
        f"no other of the {len(checks)} checked clearly better than {before}"
        if chosen.candidate == AnomalyInput(*BEFORE)
        else f"clearly better than {before} (in {CONFIDENCE:.0%} of resamples of the photos), the smallest such"
    )
    say(f"Chose input {chosen.candidate.describe()}: {reason}.")
    return chosen.candidate, {
        "value": chosen.candidate.describe(),
        "reason": reason,
        "checks": [check.to_json() for check in checks],
    }


def _choose(checks: list[InputCheck]) -> InputCheck:
    """The input of before, unless others are :func:`clearly_better`: then the smallest of those that no other of
    them is clearly better than (checks come smallest first)."""
    before = next(check for check in checks if check.candidate == AnomalyInput(*BEFORE))
    better = [check for check in checks if clearly_better(check, before)]
    return next((c for c in better if not any(clearly_better(o, c) for o in better if o is not c)), before)


def _over_budget(last: InputCheck, candidate: AnomalyInput, photos: int, budget_s: float, spent: float) -> bool:
    """Whether ``candidate``'s full build, estimated from the last check's seconds per photo scaled by pixels,
    would end past the budget."""
    last_pixels = last.candidate.size[0] * last.candidate.size[1]
    per_photo = last.seconds / (CHECK_BANK + CHECK_HELD * (1 + len(KINDS)))
    estimate = per_photo * (candidate.size[0] * candidate.size[1] / last_pixels) * photos
    return budget_s > 0 and spent + 2 * estimate > budget_s  # its check and its build; a budget of 0: none


def _embed_paths(embedder: PatchEmbedder, photos: list[Path], candidate: AnomalyInput) -> torch.Tensor:
    """Patch embeddings of the photos fitted to ``candidate`` (unreadable ones left out; the build names them)."""
    pixels = []
    for path in photos:
        try:
            pixels.append(_fitted(open_upright(path.read_bytes()), candidate))
        except (OSError, DecodeError):
            continue
    return _embed(embedder, pixels, candidate)


def _held_out_scores(embedder, photos: list[Path], candidate: AnomalyInput, bank, seed: int):
    """Return the held-out photos' scores as they are (``N``) and with each kind of drawn defect (``N x kinds``)."""
    clean, drawn = [], []
    for number, path in enumerate(photos):
        try:
            photo = np.asarray(open_upright(path.read_bytes()))
        except (OSError, DecodeError):
            continue
        rng = np.random.default_rng([seed, number])  # the same defects on every candidate: a paired comparison
        versions = [photo] + [draw_defect(photo, kind, rng) for kind in KINDS]
        fitted = [_fitted(Image.fromarray(version), candidate) for version in versions]
        scores = image_scores(_embed(embedder, fitted, candidate), bank)
        clean.append(scores[0])
        drawn.append(scores[1:])
    return np.array(clean), np.array(drawn).reshape(len(clean), len(KINDS))


def _fitted(image: Image.Image, candidate: AnomalyInput) -> np.ndarray:
    fitted, _ = fit_to_input(image, candidate.size, Image.Resampling.BILINEAR, candidate.fit, PAD_COLOUR)
    return np.asarray(fitted)


@torch.inference_mode()
def _embed(embedder: PatchEmbedder, pixels: list[np.ndarray], candidate: AnomalyInput, batch: int = 16) -> torch.Tensor:
    bundle = Bundle(name="check", arch="", classes=[], input_size=list(candidate.size))
    outputs = [
        embedder(model_input(np.stack(pixels[start : start + batch]), bundle)).float()
        for start in range(0, len(pixels), batch)
    ]
    return torch.cat(outputs) if outputs else torch.empty(0, 0, 0, 0)
