"""``defectsort fit-reduced-precision``: give a model trained before an unknown-photo detector and an anomaly-head
bank for each reduced-precision runtime this CPU runs (``openvino bf16``, ``openvino mixed``), fitted on that
runtime's own features.

``train``, ``retrain`` and ``add-anomaly-head`` do this themselves; without it, such a runtime measures its
features against the float32 banks and sends more photos to Unknown and Review.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.model.bundle import BundleError
from core.model.registry import resolve_bundle
from core.training.reduced_precision import fit_for_trained_bundle


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(
        name, help="fit the unknown-photo detectors and head banks for bf16 and mixed", description=__doc__
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="bundle folder or name")
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="the class folders the bundle was trained on")


def run(args) -> int:
    """Fit, store and report. :returns: the exit code."""
    try:
        bundle = resolve_bundle(args.bundle)
        fitted = fit_for_trained_bundle(bundle, args.data_dir)
    except (BundleError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not fitted:
        print("error: this CPU runs no reduced-precision runtime natively (OpenVINO with bfloat16)", file=sys.stderr)
        return 2
    verb = "use" if len(fitted) > 1 else "uses"
    print(f"Written to {bundle.weights_path.parent}: what {' and '.join(fitted)} {verb}.")
    return 0
