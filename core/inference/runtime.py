"""Which backend runs the model, at which precision: the one place that chooses.

A runtime is a backend (``torch``, the reference; ``onnxruntime``; ``openvino``) and the arithmetic it runs
(``fp32``; ``bf16``; ``mixed``, OpenVINO's bf16 with the layers that see the photo at full or half resolution kept
float32; ``int8`` for a quantized file). ``auto`` is :data:`DEFAULT_BACKEND` at
:data:`AUTO_PRECISION`.

That default is judged by the truth, not by agreement with float32: ``defectsort bench --truth DATA`` trains a
model per fold of a grouped cross-validation and measures each runtime on the photos of the fold it never saw
(macro-F1, defect recall, Review share, accepted photos right, pointing, calibration, per camera condition);
:func:`choose_default` takes the fastest runtime whose numbers are not worse than float32's beyond their spread.
The measured tables are in the README ("Speed": "Judged by the truth").
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Callable

import torch

BACKENDS = ("torch", "onnxruntime", "openvino")
DEFAULT_BACKEND = "openvino"
PRECISIONS = ("auto", "fp32", "bf16", "mixed")
REDUCED_PRECISIONS = ("bf16", "mixed")  # computed in bfloat16 (all of it, or all but the full-resolution layers)
# what judges a model as users will run it: the window, every command, cross-validation, the promotion gate and
# the drift baseline (the engine's own default is torch float32, the reference the golden results are held to)
USERS_BACKEND = "auto"
FALLBACK_BACKEND = "onnxruntime"  # when OpenVINO is not installed: the fastest float32 runtime after it
# The verdict of ``bench --truth`` (README, "Speed"), on two repeats of the phone model's 3-fold cross-validation
# pooled: OpenVINO mixed (bf16 with the full-resolution layers in float32) is not worse than float32 beyond its
# spread on any figure, and 1.26x faster; OpenVINO bf16, faster still, misses defects float32 finds (one photo
# each under two conditions, where float32's spread is zero). ``--precision fp32`` and ``bf16`` ask for those.
AUTO_PRECISION = "mixed"
# runtimes that get an unknown-photo detector and an anomaly-head bank fitted on their own features
# (core.training.reduced_precision): bfloat16 features measured against float32 banks look more unusual than they are
REDUCED_PRECISION_DETECTORS = ("openvino bf16", "openvino mixed")
# the quality numbers a runtime is judged by, and which way is better
HIGHER_IS_BETTER = ("macro_f1", "defect_recall", "pointing", "accepted_accuracy", "anomaly_auroc")
LOWER_IS_BETTER = ("ece", "review_share", "unknown_share")

log = logging.getLogger(__name__)


def resolve_backend(backend: str) -> str:
    """Choose the inference backend.

    :param backend: ``auto``, ``torch``, ``onnxruntime`` or ``openvino``
    :returns: one of :data:`BACKENDS` (``auto``: :data:`DEFAULT_BACKEND`, or ONNX Runtime without OpenVINO)
    """
    if backend == "auto":
        if importlib.util.find_spec("openvino") is None:
            log.warning("OpenVINO is not installed: the model runs on %s (float32), slower", FALLBACK_BACKEND)
            return FALLBACK_BACKEND
        return DEFAULT_BACKEND
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}' ({', '.join(('auto', *BACKENDS))})")
    return backend


def native_bf16() -> bool:
    """Return whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX, as oneDNN reports)."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def reduced_precision_runtimes() -> list[str]:
    """Return the runtimes of :data:`REDUCED_PRECISION_DETECTORS` this machine runs natively, those whose
    detectors training fits (OpenVINO installed, bfloat16 native: elsewhere the runtime would run float32)."""
    if importlib.util.find_spec("openvino") is None or not native_bf16():
        return []
    return list(REDUCED_PRECISION_DETECTORS)


def resolve_precision(precision: str, backend: str = "torch") -> str:
    """Choose the arithmetic for inference.

    ``auto`` is :data:`AUTO_PRECISION` on OpenVINO and float32 elsewhere (torch is the float32 reference, ONNX
    Runtime runs its file's precision). bfloat16 (``bf16``, or ``mixed``, which only OpenVINO runs) asked for on
    OpenVINO runs only where the CPU computes it natively (AVX-512 BF16 or AMX); elsewhere it would be emulated and
    slower than float32, which runs instead, with a line.

    :param precision: ``auto``, ``fp32``, ``bf16`` or ``mixed``
    :param backend: the resolved backend
    :returns: ``fp32``, ``bf16`` or ``mixed``
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}' ({', '.join(PRECISIONS)})")
    if precision == "bf16" and backend == "onnxruntime":
        raise ValueError("ONNX Runtime runs its file's precision (fp32, or int8): bf16 needs torch or openvino")
    if precision == "mixed" and backend != "openvino":
        raise ValueError("mixed precision (bf16 with the full-resolution layers in float32) needs openvino")
    if precision == "auto":
        precision = AUTO_PRECISION if backend == "openvino" else "fp32"
    if precision in REDUCED_PRECISIONS and backend == "openvino" and not native_bf16():
        log.warning("this CPU computes no bfloat16 natively: the model runs in float32")
        return "fp32"
    return precision


def parse_runtime(choice: str) -> tuple[str, str]:
    """Split a runtime choice (``auto``, a backend, or a backend and a precision: ``openvino bf16``).

    :returns: ``(backend, precision)``; a choice without a precision gets ``auto``
    """
    backend, _, precision = choice.partition(" ")
    return backend, precision or "auto"


def runtime_name(backend: str, precision: str) -> str:
    """Return how tables and logs name a runtime, e.g. ``openvino bf16``."""
    return f"{backend} {precision}"


def users_runtime() -> str:
    """Return the name of the runtime users run on this computer: :data:`USERS_BACKEND` at its default precision."""
    backend = resolve_backend(USERS_BACKEND)
    return runtime_name(backend, resolve_precision("auto", backend))


def choose_default(
    judged: dict[str, dict], reference: str, speed: dict[str, float], losses: Callable[[dict, dict], list] | None = None
) -> str:
    """Return the fastest runtime whose quality is not worse than the reference's.

    :param judged: per runtime, what ``losses`` compares (its numbers,
        :func:`core.training.runtime_judge.judged_numbers`, or its photos' verdicts)
    :param reference: the float32 runtime the others are held to
    :param speed: images/s of each runtime end to end
    :param losses: the rule: :func:`quality_losses` (beyond the spread; the default) or :func:`paired_losses`
    :returns: a key of ``judged``
    """
    rule = losses or quality_losses
    fit = [name for name in judged if not rule(judged[name], judged[reference])]
    return max(fit, key=lambda name: speed.get(name, 0.0))


# a photo's verdicts (core.training.cross_validation.photo_verdicts), in order, and whether True is the good side
VERDICTS = (("right", True), ("accepted wrong", False), ("defect missed", False), ("left to a person", False))
PAIRED_SIGNIFICANCE = 0.05


def paired_losses(candidate: dict[str, list[bool]], reference: dict[str, list[bool]]) -> list[str]:
    """Return the verdicts the candidate gets wrong more often than chance allows, photo by photo.

    Both runtimes classified the same photos (every condition) with the same fold's models: only the arithmetic
    differs. For each verdict, ``worse`` photos went the wrong way on the candidate only, ``better`` on the
    reference only; were the two as good, each such photo would be a fair coin, so the candidate loses when
    at least ``worse`` of them falling its way has a chance below :data:`PAIRED_SIGNIFICANCE` (a one-sided sign
    test), over all photos, or under one camera condition below that divided by the number of conditions (a
    cost that only one condition shows, such as compressed photos flagged unknown, is not averaged away; the
    division keeps chance from finding one among many). One photo more or less is noise here; a pattern is not.

    :param candidate: the candidate's verdicts by photo (``"<condition>/<name>": [right, accepted wrong, defect
        missed, left to a person]``)
    :param reference: the float32 runtime's, by the same keys
    :returns: one line per losing verdict, e.g. ``defect missed: worse on 7 photos, better on 1 (p = 0.035)`` or
        ``jpeg q15 left to a person: ...``, and a line for photos the candidate did not classify; empty when none
    """
    conditions = sorted({key.split("/", 1)[0] for key in reference})
    groups = {"": (candidate, reference, PAIRED_SIGNIFICANCE)}
    for condition in conditions if len(conditions) > 1 else []:
        groups[f"{condition} "] = (
            {k: v for k, v in candidate.items() if k.startswith(f"{condition}/")},
            {k: v for k, v in reference.items() if k.startswith(f"{condition}/")},
            PAIRED_SIGNIFICANCE / len(conditions),
        )
    losses = [
        f"{where}{verdict}: worse on {worse} photos, better on {better} (p = {chance:.3g})"
        for where, (theirs, ours, level) in groups.items()
        for verdict, worse, better, chance in paired_differences(theirs, ours)
        if chance < level
    ]
    missing = len(reference.keys() - candidate.keys())
    if missing:
        losses.append(f"{missing} photos the reference classified were not classified")
    return losses


def paired_differences(
    candidate: dict[str, list[bool]], reference: dict[str, list[bool]]
) -> list[tuple[str, int, int, float]]:
    """Per verdict, over the photos both classified: ``(verdict, photos worse, photos better, chance)``, the
    chance being that of at least that many worse photos were the two runtimes as good (:func:`paired_losses`)."""
    shared = candidate.keys() & reference.keys()
    differences = []
    for index, (verdict, good) in enumerate(VERDICTS):
        differ = [key for key in shared if candidate[key][index] != reference[key][index]]
        worse = sum(candidate[key][index] != good for key in differ)
        differences.append((verdict, worse, len(differ) - worse, _sign_test(worse, len(differ))))
    return differences


def _sign_test(worse: int, differ: int) -> float:
    """The chance of at least ``worse`` heads in ``differ`` tosses of a fair coin."""
    return float(sum(math.comb(differ, k) for k in range(worse, differ + 1)) / 2**differ)


def quality_losses(candidate: dict, reference: dict) -> list[str]:
    """Return the quality numbers where ``candidate`` is worse than ``reference`` beyond the reference's spread.

    :param candidate: a runtime's numbers by name, each a spread (``{"mean", "std"}``) or a pooled share; a name
        may carry a prefix (``dark macro_f1``, ``pooled review_share``): its last word says which way is better
    :param reference: the float32 runtime's numbers, by the same names
    :returns: one line per number that moved the wrong way by more than the reference's fold-to-fold standard
        deviation (a pooled share: by more than one photo in a hundred), e.g. ``defect recall 0.951 against
        0.980 +- 0.012``, and each number the reference has and the candidate lacks; empty when none
    """
    losses = []
    for name, number in reference.items():
        measure = name.split(" ")[-1]
        if measure not in HIGHER_IS_BETTER and measure not in LOWER_IS_BETTER:
            continue
        mean, spread = _mean_and_spread(number)
        value, _ = _mean_and_spread(candidate.get(name))
        if mean is None:
            continue
        if value is None:  # e.g. an int8 file without the anomaly head: a part the reference has is missing
            losses.append(f"{name.replace('_', ' ')} not measured (the runtime lacks it)")
            continue
        worse = mean - value if measure in HIGHER_IS_BETTER else value - mean
        if worse > spread + 1e-9:
            losses.append(f"{name.replace('_', ' ')} {value:.3f} against {mean:.3f} +- {spread:.3f}")
    return losses


def _mean_and_spread(number: dict | float | None) -> tuple[float | None, float]:
    """``(mean, standard deviation)`` of a spread, or ``(share, 0.01)`` of a pooled share."""
    if isinstance(number, dict):
        return number.get("mean"), float(number.get("std") or 0.0)
    return number, 0.01
