"""Unknown-photo detectors (and anomaly-head banks) for reduced-precision runtimes, fitted on their own features.

bfloat16 arithmetic moves a photo's pooled features a little, and a bank of float32 features scores the moved
features as more unusual than they are: on the keep-last cross-validation folds, OpenVINO bf16 pushed up to a third
of a held-out phone's darker or heavily compressed screens across the float32 threshold (Unknown, left to a
person) while float32 flagged none. A bank and a threshold fitted the same way on bf16 features flag as few as
float32 does (the README's "Speed"). So every trained model carries, beside its float32 detector, one per
runtime of :data:`core.inference.runtime.REDUCED_PRECISION_DETECTORS` that this CPU runs natively; the engine
uses the one for the runtime that runs (:func:`core.model.bundle.runtime_entry`).

The anomaly head has the same trouble (bf16 patch features lie farther from its float32 bank: clean, heavily
compressed screens of a held-out phone crossed its threshold and went to Review), and the same mend: a bank and
threshold of the runtime's own patches (:func:`core.training.anomaly.head_fit.fit_runtime_heads`).

``train`` and ``retrain`` fit the detector as their last step and the head's bank with the head;
``defectsort fit-reduced-precision MODEL DATA`` fits both for a model trained before (from the photos its
model.json names).
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.inference.runtime import parse_runtime, reduced_precision_runtimes
from core.model.bundle import RUNTIMES_KEY, Bundle, write_metadata
from core.model.onnx_backend import cached_onnx
from core.model.openvino_backend import OpenVinoNetwork
from core.training.anomaly.head_fit import HeadSettings, fit_runtime_heads, good_training_photos
from core.training.dataset import PhotoCache, Sample, scan_dataset
from core.training.finishing import fit_detector

BATCH = 4  # photos per forward pass while fitting


def fit_reduced_precision_detectors(
    bundle: Bundle, train_set: list[Sample], val_set: list[Sample], cache: PhotoCache, say=print, seed: int = 0
) -> list[str]:
    """Fit and store (model.json + one bank file each) a detector for every runtime this CPU runs natively
    (:func:`core.inference.runtime.reduced_precision_runtimes`).

    :param bundle: a saved classifier bundle with its float32 detector
    :param train_set: the photos it was trained on (the bank)
    :param val_set: its validation photos (the threshold)
    :param cache: decodes the photos at the bundle's input size
    :param say: receives one line per detector
    :param seed: the augmented copies' draws (the photos are taken in name order: a refit from the same photos
        gives the same detector as training did)
    :returns: the runtimes fitted (empty on a machine that cannot run any)
    """
    fitted = []
    train_set, val_set = (sorted(samples, key=lambda sample: sample.path.name) for samples in (train_set, val_set))
    for runtime in reduced_precision_runtimes():
        backend, precision = parse_runtime(runtime)
        assert backend == "openvino"
        network = OpenVinoNetwork(cached_onnx(bundle), bundle, precision)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            detector = fit_detector(network, train_set, val_set, cache, BATCH, bundle)
        detector.fitted_on = f"{runtime} features of {detector.fitted_on}"
        entry = detector.save(bundle.weights_path.parent, f"novelty-{precision}.safetensors")
        bundle.novelty[RUNTIMES_KEY] = {**bundle.novelty.get(RUNTIMES_KEY, {}), runtime: entry}
        fitted.append(runtime)
        say(
            f"Unknown-photo detector for {runtime}: threshold {entry['threshold']} "
            f"(float32: {bundle.novelty.get('threshold')})."
        )
    if fitted:
        write_metadata(bundle)
    return fitted


def fit_for_trained_bundle(bundle: Bundle, data_dir: Path, masks_dir: Path | None = None, say=print) -> list[str]:
    """Fit the reduced-precision detectors (and anomaly-head banks) of a model trained before, from the photos its
    model.json names.

    :param data_dir: the class folders it was trained on
    :raises ValueError: the bundle records no split, lacks its float32 detector, or the folder lacks its photos
    """
    split = bundle.training.get("split", {})
    if not split or not bundle.novelty:
        raise ValueError(f"'{bundle.name}' records no training split or has no unknown-photo detector")
    classes, samples = scan_dataset(data_dir, masks_dir, bundle.training.get("group_by"))
    by_name = {sample.path.name: sample for sample in samples}
    missing = [name for name in split["train"] + split["validation"] if name not in by_name]
    if missing:
        raise ValueError(f"{data_dir} lacks {len(missing)} photos '{bundle.name}' was trained on ({missing[0]}, ...)")
    train_set = [by_name[name] for name in split["train"]]
    val_set = [by_name[name] for name in split["validation"]]
    cache = PhotoCache(bundle.input_hw, bundle.fit)
    fitted = fit_reduced_precision_detectors(bundle, train_set, val_set, cache, say)
    if bundle.anomaly_head and fitted:
        good = good_training_photos(bundle, classes, samples, split)
        fit_runtime_heads(bundle, good, HeadSettings.of(bundle.anomaly_head), say=say)
    return fitted
