"""Judge every runtime by the truth: the honest protocol's numbers for each, beside float32's, in one run.

Agreement with float32 is a proxy: a runtime that moves a probability may move it the right way or the wrong
way. Here each fold of a grouped cross-validation trains a model (the bundle's own recipe) and every runtime
classifies that fold's held-out photos with it: an int8 file is calibrated on the fold's *training* photos
only. A runtime's numbers (macro-F1, defect recall, calibration, Review share, accepted photos right,
pointing, unknown share, anomaly AUROC; per camera condition too) are then held against float32's and its
spread (:func:`core.inference.runtime.quality_losses`), and the fastest runtime with no loss is the one to
make the default (:func:`core.inference.runtime.choose_default`). ``defectsort bench --truth DATA`` runs it.
"""

from __future__ import annotations

from pathlib import Path

from core.inference.runtime import HIGHER_IS_BETTER, LOWER_IS_BETTER
from core.model.bundle import Bundle
from core.training.cross_validation import RuntimeOptions, pool_repeats
from core.training.protocol import Protocol, kept_fold, recipe_of, train_honestly
from core.training.quantize import export_int8

REFERENCE = "torch fp32"


def _plain(backend: str, precision: str) -> RuntimeOptions:
    def options(_bundle: Bundle, _photos: list[Path], _scratch: Path) -> dict:
        return {"backend": backend, "precision": precision}

    return options


def _int8(backend: str) -> RuntimeOptions:
    def options(bundle: Bundle, photos: list[Path], scratch: Path) -> dict:
        return {"backend": backend, "onnx_file": export_int8(bundle, photos, scratch / "int8.onnx")}

    return options


CANDIDATES: dict[str, RuntimeOptions] = {  # judged against the reference
    "torch bf16": _plain("torch", "bf16"),
    "onnxruntime fp32": _plain("onnxruntime", "fp32"),
    "onnxruntime int8": _int8("onnxruntime"),
    "openvino fp32": _plain("openvino", "fp32"),
    "openvino bf16": _plain("openvino", "bf16"),
    "openvino mixed": _plain("openvino", "mixed"),
    "openvino int8": _int8("openvino"),
}
RUNTIMES: dict[str, RuntimeOptions] = {REFERENCE: _plain("torch", "fp32"), **CANDIDATES}  # every one, timed too


def judge_runtimes(
    bundle: Bundle,
    data_dir: Path,
    folds: int,
    conditions: bool,
    masks_dir=None,
    pretrained=None,
    say=print,
    kept_folds: list[Path] | None = None,
    candidates: list[str] | None = None,
) -> dict[str, dict]:
    """Cross-validate the bundle's recipe on ``data_dir`` and measure every fold's model on every runtime.

    :param bundle: the model whose recipe is trained again per fold
    :param data_dir: class folders of labelled photos
    :param folds: grouped cross-validation folds
    :param conditions: also measure every held-out photo under every camera condition
    :param masks_dir: defect masks (adds pointing)
    :param pretrained: the backbone weights each fold starts from
    :param say: receives progress lines
    :param kept_folds: the folds' models earlier cross-validations kept (``--keep-folds``), one folder per
        cross-validation: measured instead of trained again, each with its own recipe (its seed deals the same
        folds); two or more are repeats, pooled into one report per runtime
        (:func:`core.training.cross_validation.pool_repeats`)
    :param candidates: the runtimes to judge (default: every one of :data:`CANDIDATES`)
    :returns: per runtime (the reference, :data:`REFERENCE`, first), its cross-validation report
    """
    judged = {name: CANDIDATES[name] for name in candidates or CANDIDATES}

    def judge_once(recipe: Bundle, kept: Path | None) -> dict:
        config, options, head = recipe_of(recipe, masks_dir, pretrained)
        reference = {"backend": "torch", "precision": "fp32"}
        protocol = Protocol(folds, 0.0, conditions, reference, head, judged, kept_folds=kept)
        report = train_honestly(data_dir, None, config, protocol, options, say)[1]["cross_validation"]
        return {REFERENCE: report, **report.pop("runtimes")}

    # a kept cross-validation's recipe (seed, groups, masks) is its first fold's: it dealt those folds
    repeats = [judge_once(kept_fold(folder / "fold-1"), folder) for folder in kept_folds or []]
    repeats = repeats or [judge_once(bundle, None)]
    if len(repeats) == 1:
        return repeats[0]
    say(f"{len(repeats)} repeats of the {folds}-fold cross-validation, pooled:")
    return {name: pool_repeats([repeat[name] for repeat in repeats]) for name in repeats[0]}


def judged_numbers(report: dict) -> dict:
    """A runtime's numbers as :func:`core.inference.runtime.quality_losses` compares them: the fold spreads, the
    pooled shares (``pooled review_share``...) and every condition's spreads (``dark macro_f1``...)."""
    numbers: dict = dict(report["summary"])
    numbers.update({f"pooled {key}": report["pooled"][key] for key in ("review_share", "accepted_accuracy")})
    for condition, summary in report.get("conditions", {}).items():
        numbers.update({f"{condition} {key}": spread for key, spread in summary.items() if _compared(key)})
    return numbers


def _compared(key: str) -> bool:
    return key in HIGHER_IS_BETTER or key in LOWER_IS_BETTER
