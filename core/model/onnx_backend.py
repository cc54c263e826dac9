"""The ONNX Runtime backend: the bundle's exported network on ONNX Runtime's CPU execution provider.

:class:`OnnxNetwork` stands in for :class:`core.model.network.ClassMapNet` inside the engine (same
``forward_all``, same outputs), so decoding, batching and every decision stay the engine's. The
ONNX file is exported on first use and cached in the user cache folder, named by the SHA-256 of
the bundle's weights; its sidecar is checked at every load (:func:`core.model.export.read_sidecar`).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from core.model.bundle import Bundle, BundleError, load_bundle
from core.model.export import INPUT, REVISION, export_onnx, read_sidecar
from core.model.network import NetworkOutputs
from core.paths import confine_library_files, user_cache_dir

ONNX_CACHE_ENV = "DEFECTSORT_CACHE"


def onnx_cache_dir() -> Path:
    """Return where exported models are cached (``DEFECTSORT_CACHE`` overrides it: tests, the service)."""
    override = os.environ.get(ONNX_CACHE_ENV)
    return Path(override) if override else user_cache_dir() / "onnx"


def cached_onnx(bundle: Bundle, in_child_process: bool = False) -> Path:
    """Return the bundle's ONNX file, exported now unless a matching one is cached.

    :param in_child_process: export in a child process: the exporter's memory (several hundred MB that a
        process keeps once it has exported) goes with it; for a long-running process such as the service
    """
    head = bundle.anomaly_head.get("sha256", "")
    path = onnx_cache_dir() / f"{bundle.name}-{bundle.sha256[:16]}{'-' + head[:8] if head else ''}-r{REVISION}.onnx"
    try:
        read_sidecar(path, bundle)
        return path
    except BundleError:
        pass  # missing, or from other weights: (re)export
    if not in_child_process or bundle.folder is None:  # (a bundle made in memory: nothing to reload there)
        return export_onnx(bundle, path)
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter (the frozen app too: freeze_support)
    with ProcessPoolExecutor(1, mp_context=spawn) as child:
        return Path(child.submit(_export_bundle_folder, str(bundle.folder), str(path)).result())


def _export_bundle_folder(folder: str, path: str) -> str:
    """Export the bundle in ``folder`` to ``path`` (run in a child process)."""
    return str(export_onnx(load_bundle(folder), Path(path)))


class OnnxNetwork:
    """An exported bundle on ONNX Runtime, with the interface the engine uses.

    :param path: the ONNX file (its sidecar must name ``bundle``'s weights)
    :param bundle: the bundle it was exported from
    :param threads: intra-op threads (default: torch's, which match the machine)
    """

    def __init__(self, path: Path, bundle: Bundle, threads: int | None = None):
        meta = read_sidecar(path, bundle)
        confine_library_files()  # before ONNX Runtime is imported: no telemetry files in the home folder
        import onnxruntime as ort  # imported on first use: the torch backend does not need it

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the CPU to decoding
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - ORT raises its own exception types
            raise BundleError(f"ONNX Runtime cannot load {Path(path).name}: {str(error).splitlines()[0]}") from None
        self.outputs: list[str] = meta["outputs"]
        self.quantization = meta.get("quantization")

    def forward_all(self, batch: torch.Tensor) -> NetworkOutputs:
        """Return the network's outputs for a normalised ``N x 3 x H x W`` batch."""
        arrays = self.session.run(None, {INPUT: batch.contiguous().numpy()})
        named = {name: torch.from_numpy(array) for name, array in zip(self.outputs, arrays)}
        return NetworkOutputs(
            named["logits"], named["maps"], named.get("detail"), named["embedding"], named.get("anomaly")
        )
