"""``defectsort export-model``: the bundle's network as ONNX (optionally int8) or TorchScript, for
phones, edge boxes and other runtimes, with a JSON description beside it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.model.bundle import BundleError
from core.model.export import OPSET, export_onnx, export_torchscript
from core.model.registry import resolve_bundle


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(name, help="export a model to ONNX or TorchScript", description=__doc__)
    parser.add_argument("bundle", metavar="NAME|DIR", help="the model bundle")
    parser.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE")
    parser.add_argument("--int8", action="store_true", help="ONNX only: static int8 quantization (needs --calibration)")
    parser.add_argument("--calibration", type=Path, metavar="DIR", help="photos of the product for the int8 ranges")


def run(args: argparse.Namespace) -> int:
    """Export, print what was written. :returns: 0, or 2 when it cannot be done."""
    if args.int8 and (args.format != "onnx" or args.calibration is None):
        print("error: --int8 needs --format onnx and --calibration DIR (photos of the product)", file=sys.stderr)
        return 2
    try:
        bundle = resolve_bundle(args.bundle)
        if args.int8:
            from core.training.quantize import export_int8

            written = export_int8(bundle, args.calibration, args.out)
        elif args.format == "onnx":
            written = export_onnx(bundle, args.out)
        else:
            written = export_torchscript(bundle, args.out)
    except (BundleError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    kind = f"ONNX opset {OPSET}" + (", int8" if args.int8 else "") if args.format == "onnx" else "TorchScript"
    print(f"wrote {written} ({kind}, {written.stat().st_size / 1e6:.1f} MB) and {written.name}.json")
    return 0
