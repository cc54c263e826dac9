"""The ``--backend``, ``--precision`` and ``--onnx`` options shared by the commands that run a model."""

from __future__ import annotations

import argparse

from core.inference.runtime import AUTO_PRECISION, BACKENDS, DEFAULT_BACKEND, PRECISIONS, USERS_BACKEND


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend auto|torch|onnxruntime|openvino``, ``--precision auto|fp32|bf16|mixed`` and ``--onnx FILE``."""
    parser.add_argument(
        "--backend",
        choices=("auto", *BACKENDS),
        default=USERS_BACKEND,
        help=f"inference backend (auto: {DEFAULT_BACKEND}, judged by `defectsort bench --truth`; torch is the "
        "reference)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help=f"arithmetic (auto: {AUTO_PRECISION} on openvino, the precision judged by the truth, float32 elsewhere; "
        "mixed: bf16 but the layers that see the photo at full or half resolution in float32, openvino only; bf16 "
        "and mixed run where the CPU computes bfloat16 natively, float32 elsewhere; bf16 on torch by autocast)",
    )
    parser.add_argument(
        "--onnx",
        metavar="FILE",
        help="with onnxruntime or openvino: this exported file (e.g. int8 from export-model) instead of the cached one",
    )


def engine_options(args: argparse.Namespace) -> dict:
    """Return the Engine keyword arguments the options ask for."""
    backend = "auto" if args.onnx and args.backend == "torch" else args.backend  # a file needs a file runtime
    return {"backend": backend, "precision": args.precision, "onnx_file": args.onnx}
