"""The OpenVINO backend: the bundle's exported ONNX file compiled by OpenVINO for this CPU.

:class:`OpenVinoNetwork` stands in for :class:`core.model.network.ClassMapNet` inside the engine, as
:class:`core.model.onnx_backend.OnnxNetwork` does. It runs a float file at ``fp32``, ``bf16`` (OpenVINO's
inference precision: bfloat16 arithmetic with float32 accumulation, native on CPUs with AVX-512 BF16 or AMX) or
``mixed`` (bf16, but the layers that see the photo at full or half resolution stay float32:
:func:`keep_full_resolution_float32`), or an int8 file (quantize-dequantize pairs from
:mod:`core.training.quantize`, executed with VNNI int8 kernels).

A runtime with an anomaly-head bank of its own (bf16 patches lie farther from float32 ones:
:mod:`core.training.reduced_precision`) reads the patch embeddings the head's matrix product takes and measures
them against that bank instead; ``head="patches"`` hands the patch embeddings over as the "anomaly" output, to fit
such a bank.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import torch

from core.files import file_sha256
from core.model.anomaly.head import photo_distances
from core.model.anomaly.memory import load_bank
from core.model.bundle import Bundle, BundleError
from core.model.export import read_sidecar
from core.model.network import NetworkOutputs
from core.model.onnx_backend import onnx_cache_dir
from core.paths import confine_library_files

OPENVINO_PRECISIONS = ("fp32", "bf16", "mixed", "int8")
_HINTS = {"fp32": "f32", "bf16": "bf16", "mixed": "bf16", "int8": "f32"}  # int8: the layers left in float stay float32
# OpenVINO's mark that keeps a layer in its own precision whatever the hint (read from a model file's rt_info)
_KEEP_FLOAT32 = {"name": "DisablePrecisionConversion", "version": "0", "value": "dynamic:f16,bf16"}


class OpenVinoNetwork:
    """An exported bundle compiled by OpenVINO, with the interface the engine uses.

    :param path: the ONNX file (its sidecar must name ``bundle``'s weights)
    :param bundle: the bundle it was exported from
    :param precision: ``fp32``, ``bf16`` or ``mixed`` for a float file; an int8 file runs as int8 whatever is asked
    :param threads: inference threads (default: torch's, which match the machine)
    :param head: the anomaly head's bank for this runtime (its patches are measured against it instead of the
        exported float32 bank), ``"patches"`` (the "anomaly" output is then the patch embeddings, to fit one), or
        None: the exported head as it is
    """

    def __init__(
        self,
        path: Path,
        bundle: Bundle,
        precision: str = "fp32",
        threads: int | None = None,
        head: torch.Tensor | str | None = None,
    ):
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
        core = ov.Core()
        mixed = self.precision == "mixed"
        model = keep_full_resolution_float32(core, Path(path)) if mixed else core.read_model(str(path))
        self.outputs: list[str] = meta["outputs"]
        self.head = head if self.quantization is None else None  # an int8 file has no head
        if self.head is not None:
            _expose_head_patches(model, bundle)
        try:
            self.compiled = core.compile_model(model, "CPU", config)
        except Exception as error:  # noqa: BLE001 - OpenVINO raises its own exception types
            raise BundleError(f"OpenVINO cannot compile {Path(path).name}: {str(error).splitlines()[0]}") from None
        self.request = self.compiled.create_infer_request()

    def forward_all(self, batch: torch.Tensor) -> NetworkOutputs:
        """Return the network's outputs for a normalised ``N x 3 x H x W`` batch."""
        results = self.request.infer({0: np.ascontiguousarray(batch.numpy())})
        named = {name: torch.from_numpy(np.array(results[index])) for index, name in enumerate(self.outputs)}
        anomaly = named.get("anomaly")
        if self.head is not None and anomaly is not None:
            rows = torch.from_numpy(np.array(results[len(self.outputs)]))  # N x hw x D
            patches = rows.transpose(1, 2).reshape(len(rows), rows.shape[2], *anomaly.shape[-2:])
            anomaly = patches if isinstance(self.head, str) else photo_distances(patches, self.head)
        return NetworkOutputs(named["logits"], named["maps"], named.get("detail"), named["embedding"], anomaly)


def keep_full_resolution_float32(core, path: Path):
    """Return the model of an exported ONNX file with every layer that takes the photo at full or half resolution
    marked to stay float32 under a bfloat16 hint.

    bfloat16 keeps 8 significant bits: rounding the photo and the first feature maps loses the contrast of a dead
    pixel or a hairline scratch, and the whole network builds on them. Measured on the bundled phone model's 141
    photos, those layers (the stem and the first block, 5 of 54 convolutions) carry most of bf16's effect on the
    class probabilities (largest change 0.37 -> 0.06, mean 0.013 -> 0.003) at a fraction of its speed (README,
    "Speed"). OpenVINO reads the mark from a model file only: the marked model is kept as an OpenVINO file in the
    export cache, named by the ONNX file's SHA-256 (made once, then read).

    :param core: the OpenVINO ``Core`` that reads the model
    :param path: the ONNX file (input ``N x 3 x H x W``)
    :returns: the marked model
    """
    marked = onnx_cache_dir() / f"{path.stem}-{file_sha256(path)[:16]}-mixed.xml"
    if not marked.is_file():
        _write_marked(core.read_model(str(path)), marked)
    return core.read_model(str(marked))


def _write_marked(model, marked: Path) -> None:
    """Save ``model`` as OpenVINO's ``marked`` (.xml and .bin) with its full-resolution layers marked float32;
    each file appears whole or not at all."""
    import openvino as ov

    shape = model.input(0).get_partial_shape()
    height, width = shape[2].get_length(), shape[3].get_length()
    marked.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=marked.parent, prefix=".mixed-") as scratch:
        saved = Path(scratch, "model.xml")
        ov.save_model(model, str(saved), compress_to_fp16=False)
        tree = ElementTree.parse(saved)
        for layer in tree.getroot().iter("layer"):
            if _sees_full_resolution(layer, height, width):
                rt_info = layer.find("rt_info")
                if rt_info is None:
                    rt_info = ElementTree.SubElement(layer, "rt_info")
                ElementTree.SubElement(rt_info, "attribute", _KEEP_FLOAT32)
        tree.write(saved)
        os.replace(saved.with_suffix(".bin"), marked.with_suffix(".bin"))
        os.replace(saved, marked)  # last: a marked .xml always has its .bin


def _sees_full_resolution(layer, height: int, width: int) -> bool:
    """Whether a layer of a model file takes a feature map of at least half the photo's height and width."""
    port = layer.find("input/port")
    dims = [int(dim.text) for dim in port.iter("dim")] if port is not None else []
    return len(dims) == 4 and dims[2] * 2 >= height and dims[3] * 2 >= width


def _expose_head_patches(model, bundle: Bundle) -> None:
    """Add the anomaly head's patch embeddings (the rows its matrix product multiplies by the bank) as the model's
    last output; the product is found by its other factor, the bank itself (transposed, as the export folds it).

    :raises BundleError: no such product in the graph (a file without the head, or exported otherwise)
    """
    bank = load_bank(bundle.weights_path.parent, bundle.anomaly_head).float().numpy()
    for op in model.get_ops():
        factor = op.input(1).get_source_output().get_node() if op.get_type_name() == "MatMul" else None
        if _holds(factor, bank.T):
            model.add_outputs([_unscaled(op.input(0).get_source_output())])
            return
    raise BundleError(f"'{bundle.name}': its exported file has no anomaly head to measure against another bank")


def _holds(node, values: np.ndarray) -> bool:
    """Whether ``node`` is a constant of these values."""
    if node is None or node.get_type_name() != "Constant" or tuple(node.get_output_shape(0)) != values.shape:
        return False
    return bool(np.allclose(node.get_data(), values, atol=1e-4))


def _unscaled(rows):
    """The patch rows before a constant factor the export moved onto them (``-2 * rows @ bank.T``)."""
    node = rows.get_node()
    if node.get_type_name() != "Multiply":
        return rows
    inputs = [node.input(i).get_source_output() for i in range(2)]
    variable = [i for i in inputs if i.get_node().get_type_name() != "Constant"]
    return variable[0] if len(variable) == 1 else rows
