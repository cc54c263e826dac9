"""Every inference backend on the phone model's validation photos, in one run, to choose the default.

    python -m tests.benchmarks.backends [--data ../shared/data/phone-msd]

int8 is calibrated on the model's *training* photos only (static quantization, QDQ, per-channel
weights); all backends are then measured on its 29 *validation* photos (with their defect masks):
images/s end to end, labels and statuses as torch fp32, the largest probability shift, and heatmap
pointing (the peak inside the defect mask). The default is the fastest backend whose labels match
torch fp32 on every validation photo and whose probabilities stay within 0.05.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from core.inference.engine import Engine
from core.model.registry import resolve_bundle
from core.photos.sources import collect_items
from core.training.dataset import scan_dataset
from core.training.quantize import export_int8
from core.training.trust_metrics import localisation_scores

ROOT = Path(__file__).resolve().parents[2]
MAX_SHIFT = 0.05


def _training_copy(samples, validation: set[str], folder: Path) -> Path:
    """Return a folder with links to the training photos only (for int8 calibration)."""
    for sample in samples:
        if sample.path.name not in validation:
            target = folder / sample.path.parent.name / sample.path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sample.path, target)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "phone-msd")
    parser.add_argument("--model")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the photos for the timing")
    args = parser.parse_args()
    bundle = resolve_bundle(args.model)
    classes, samples = scan_dataset(args.data / "photos", args.data / "masks")
    validation = set(bundle.training["split"]["validation"])
    kept = [s for s in samples if s.path.name in validation]
    true = [classes[s.label] for s in kept]
    items = collect_items([s.path for s in kept])
    with tempfile.TemporaryDirectory(prefix="defectsort-backends-") as scratch:
        calibration = _training_copy(samples, validation, Path(scratch) / "train")
        int8 = export_int8(bundle, calibration, Path(scratch) / "int8.onnx")
        engines = {
            "torch fp32": Engine(bundle),
            "torch bf16": Engine(bundle, precision="bf16"),
            "onnxruntime fp32": Engine(bundle, backend="onnxruntime"),
            "onnxruntime int8": Engine(bundle, backend="onnxruntime", onnx_file=int8),
        }
        print(f"{bundle.name} {bundle.version}: {len(items)} validation photos, int8 calibrated on the other photos")
        reference = None
        for name, engine in engines.items():
            list(engine.classify(items[:2]))  # warm-up
            start = time.perf_counter()
            for _ in range(args.repeat):
                predictions = list(engine.classify(items))
            rate = args.repeat * len(items) / (time.perf_counter() - start)
            reference = reference or predictions
            _report(name, rate, predictions, reference, kept, true)


def _report(name, rate, predictions, reference, samples, true) -> None:
    same_label = sum(p.label == r.label for p, r in zip(predictions, reference))
    same_status = sum(p.status == r.status for p, r in zip(predictions, reference))
    shift = max(
        abs(p.probabilities[c] - r.probabilities[c]) for p, r in zip(predictions, reference) for c in r.probabilities
    )
    accuracy = sum(p.label == t for p, t in zip(predictions, true)) / len(true)
    pointing = localisation_scores(samples, predictions, true)["pointing"]
    qualifies = same_label == len(reference) and shift <= MAX_SHIFT
    print(
        f"{name:<18} {rate:5.1f} img/s | labels as fp32 {same_label}/{len(reference)}, statuses {same_status}/"
        f"{len(reference)}, max |dp| {shift:.4f} | accuracy {accuracy:.3f}, pointing {pointing} | "
        f"{'qualifies' if qualifies else 'does not qualify'} as default"
    )


if __name__ == "__main__":
    main()
