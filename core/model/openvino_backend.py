"""The OpenVINO backend: the bundle's exported ONNX file compiled by OpenVINO for this CPU.

:class:`OpenVinoNetwork` stands in for :class:`core.model.network.ClassMapNet` inside the engine, as
:class:`core.model.onnx_backend.OnnxNetwork` does. It runs a float file at ``fp32`` or ``bf16`` (OpenVINO's
inference precision: bfloat16 arithmetic with float32 accumulation, native on CPUs with AVX-512 BF16 or AMX),
or an int8 file (quantize-dequantize pairs from :mod:`core.training.quantize`, executed with VNNI int8 kernels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.model.bundle import Bundle, BundleError
from core.model.export import read_sidecar
from core.model.network import NetworkOutputs
from core.paths import confine_library_files

OPENVINO_PRECISIONS = ("fp32", "bf16", "int8")
_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}  # int8: the layers left in float stay float32


class OpenVinoNetwork:
    """An exported bundle compiled by OpenVINO, with the interface the engine uses.

    :param path: the ONNX file (its sidecar must name ``bundle``'s weights)
    :param bundle: the bundle it was exported from
    :param precision: ``fp32`` or ``bf16`` for a float file; an int8 file runs as int8 whatever is asked
    :param threads: inference threads (default: torch's, which match the machine)
    """

    def __init__(self, path: Path, bundle: Bundle, precision: str = "fp32", threads: int | None = None):
        meta = read_sidecar(path, bundle)
        self.quantization = meta.get("quantization")
        self.precision = self.quantization or precision
        if self.precision not in OPENVINO_PRECISIONS:
            raise ValueError(f"unknown precision '{precision}' for OpenVINO (fp32, bf16 or int8)")
        confine_library_files()
        import openvino as ov  # imported on first use: the other backends do not need it

        config = {
            "INFERENCE_PRECISION_HINT": _HINTS[self.precision],
            "INFERENCE_NUM_THREADS": threads or torch.get_num_threads(),
            "PERFORMANCE_HINT": "LATENCY",
        }
        try:
            self.compiled = ov.Core().compile_model(str(path), "CPU", config)
        except Exception as error:  # noqa: BLE001 - OpenVINO raises its own exception types
            raise BundleError(f"OpenVINO cannot compile {Path(path).name}: {str(error).splitlines()[0]}") from None
        self.request = self.compiled.create_infer_request()
        self.outputs: list[str] = meta["outputs"]

    def forward_all(self, batch: torch.Tensor) -> NetworkOutputs:
        """Return the network's outputs for a normalised ``N x 3 x H x W`` batch."""
        results = self.request.infer({0: np.ascontiguousarray(batch.numpy())})
        named = {name: torch.from_numpy(np.array(results[index])) for index, name in enumerate(self.outputs)}
        return NetworkOutputs(
            named["logits"], named["maps"], named.get("detail"), named["embedding"], named.get("anomaly")
        )
