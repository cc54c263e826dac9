"""The ``--backend`` and ``--onnx`` options shared by the commands that run a model."""

from __future__ import annotations

import argparse

from core.inference.engine import BACKENDS, DEFAULT_BACKEND


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend auto|torch|onnxruntime`` and ``--onnx FILE``."""
    parser.add_argument(
        "--backend",
        choices=("auto", *BACKENDS),
        default="auto",
        help=f"inference backend (auto: {DEFAULT_BACKEND}, chosen by the benchmark; torch is the reference)",
    )
    parser.add_argument(
        "--onnx",
        metavar="FILE",
        help="with the onnxruntime backend: this exported file (e.g. int8 from export-model) instead of the cached one",
    )


def engine_options(args: argparse.Namespace) -> dict:
    """Return the Engine keyword arguments the options ask for."""
    backend = "onnxruntime" if args.onnx else args.backend
    return {"backend": backend, "onnx_file": args.onnx}
