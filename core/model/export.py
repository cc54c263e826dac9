"""Export a bundle's whole network (as the engine runs it) to ONNX or TorchScript, with a JSON sidecar.

The exported graph takes a float ``N x 3 x H x W`` batch (any N), already normalised, and returns
what :meth:`core.model.network.ClassMapNet.forward_all` returns: ``logits``, class ``maps``, the fine
``detail`` activations the heatmap refinement uses (when the bundle has them) and the pooled
``embedding`` of the unknown-photo detector. The sidecar ``FILE.json`` says everything a phone
app needs to prepare a photo (size, resize filter, mean, std) and to read the outputs (classes,
temperature), plus the SHA-256 of the bundle's weights, checked when the file is loaded.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
import warnings
from pathlib import Path

import torch

from core.files import file_sha256, write_text_atomic
from core.model.bundle import Bundle, BundleError, build_network
from core.model.network import ClassMapNet
from core.photos.decode import PAD_COLOUR

OPSET = 17
INPUT = "images"
REVISION = 4  # of the exported graph: a cached export of an older revision is made again (4: OpenVINO reads it right)


class _AllOutputs(torch.nn.Module):
    """``forward_all`` as a plain tuple (exporters take tensors, not named tuples)."""

    def __init__(self, network: ClassMapNet):
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.network.forward_all(images)
        parts = [outputs.logits, outputs.maps, outputs.embedding]
        if outputs.detail is not None:
            parts.insert(2, outputs.detail)
        if outputs.anomaly is not None:
            parts.append(outputs.anomaly)
        return tuple(parts)


def output_names(bundle: Bundle) -> list[str]:
    """Return the exported graph's outputs, in order."""
    detail = ["detail"] if bundle.detail_layer is not None else []
    return ["logits", "maps", *detail, "embedding", *(["anomaly"] if bundle.anomaly_head else [])]


def export_onnx(bundle: Bundle, out: Path) -> Path:
    """Write the bundle's network as ONNX (dynamic batch, opset :data:`OPSET`) and its sidecar.

    :returns: the ONNX file
    :raises BundleError: when the architecture cannot be exported
    """
    module, example = _traceable(bundle)
    names = output_names(bundle)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # one partial file per writer: two processes exporting the same cached file (cluster workers starting together)
    # each finish their own and the last replace wins, the same bytes either way
    partial = out.with_name(f".{out.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript-based exporter announces its successor
            torch.onnx.export(
                module,
                (example,),
                str(partial),
                input_names=[INPUT],
                output_names=names,
                dynamic_axes={name: {0: "batch"} for name in [INPUT, *names]},
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as error:  # noqa: BLE001 - the exporter raises many kinds; all mean "cannot export"
        partial.unlink(missing_ok=True)
        reason = _first_line(error)
        raise BundleError(f"{bundle.arch} of '{bundle.name}' cannot be exported to ONNX: {reason}") from None
    partial.replace(out)
    write_sidecar(bundle, out, "onnx")
    return out


def export_torchscript(bundle: Bundle, out: Path) -> Path:
    """Write the bundle's network as a traced TorchScript module and its sidecar. :returns: the file."""
    module, example = _traceable(bundle)
    try:
        with torch.inference_mode(False), torch.no_grad():
            traced = torch.jit.trace(module, example)
    except Exception as error:  # noqa: BLE001 - as for ONNX
        raise BundleError(f"{bundle.arch} of '{bundle.name}' cannot be traced: {_first_line(error)}") from None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(out))
    write_sidecar(bundle, out, "torchscript")
    return out


_FIT_WORDS = {
    "stretch": "resized to",
    "pad": "scaled to fit (aspect ratio kept, centred, the rest filled with pad_colour) in",
}


def write_sidecar(bundle: Bundle, model_file: Path, kind: str, quantization: str | None = None) -> Path:
    """Write ``FILE.json``: how to feed the exported model and read its outputs. :returns: its path."""
    height, width = bundle.input_hw
    meta = {
        "format": kind,
        "opset": OPSET if kind == "onnx" else None,
        "revision": REVISION,
        "quantization": quantization,
        "sha256": file_sha256(model_file),
        "bundle": {
            "name": bundle.name,
            "version": bundle.version,
            "weights_sha256": bundle.sha256,
            "anomaly_head_sha256": bundle.anomaly_head.get("sha256"),
        },
        "input": {
            "name": INPUT,
            "shape": ["batch", 3, height, width],
            "dtype": "float32",
            "preprocessing": (
                f"RGB photo, EXIF orientation applied, {_FIT_WORDS[bundle.fit]} {width} x {height} "
                f"(Pillow '{bundle.resize}'); values / 255, then (value - mean) / std per channel"
            ),
            "resize": bundle.resize,
            "fit": bundle.fit,
            "pad_colour": list(PAD_COLOUR) if bundle.fit == "pad" else None,
            "mean": bundle.mean,
            "std": bundle.std,
        },
        "outputs": output_names(bundle),
        "classes": list(bundle.classes),
        "temperature": float(bundle.temperature),
        "tta": list(bundle.tta),
        "note": "probabilities = softmax(logits / temperature); maps: per-class evidence on a coarse grid; "
        "tta ['hflip']: average the logits of the photo and of its mirror image first",
    }
    path = model_file.with_name(model_file.name + ".json")
    write_text_atomic(path, json.dumps(meta, indent=2) + "\n")
    return path


def read_sidecar(model_file: Path, bundle: Bundle) -> dict:
    """Return the sidecar of ``model_file``. :raises BundleError: when it is missing or made from
    other weights than ``bundle``'s (the exported file must never silently disagree with its bundle)."""
    path = Path(model_file).with_name(Path(model_file).name + ".json")
    try:
        meta: dict = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BundleError(f"{model_file} has no readable description ({path.name})") from None
    name = Path(model_file).name
    if meta.get("bundle", {}).get("weights_sha256") != bundle.sha256:
        raise BundleError(f"{name} was exported from other weights than '{bundle.name}' {bundle.version}")
    head = meta["bundle"].get("anomaly_head_sha256")  # an int8 file has none: it classifies without the head
    if head is not None and head != bundle.anomaly_head.get("sha256"):
        raise BundleError(f"{name} was exported with another anomaly head than '{bundle.name}' {bundle.version}")
    if meta.get("sha256") != file_sha256(Path(model_file)):
        raise BundleError(f"{name} does not match the SHA-256 its description records (file changed?)")
    return meta


def _traceable(bundle: Bundle) -> tuple[torch.nn.Module, torch.Tensor]:
    """Return a private copy of the network (exporting changes modules in place) and an example input."""
    if bundle.anomaly:
        raise BundleError(f"'{bundle.name}' is an anomaly model: it runs in PyTorch (its memory bank is not exported)")
    network = copy.deepcopy(build_network(bundle)).eval()
    assert isinstance(network, ClassMapNet)
    height, width = bundle.input_hw
    return _AllOutputs(network).eval(), torch.zeros(1, 3, height, width)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
