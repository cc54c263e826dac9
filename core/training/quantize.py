"""Static int8 quantization of an exported bundle with ONNX Runtime (QDQ format, per-channel weights).

Activation ranges are calibrated on real photos of the product (e.g. the bundle's training
folder), prepared exactly as the engine prepares them. Fewer than :data:`MIN_CALIBRATION_PHOTOS`
readable photos is refused: the ranges would be guesses.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.inference.engine import model_input
from core.model.bundle import Bundle, BundleError, decode_for
from core.model.export import INPUT, export_onnx, write_sidecar
from core.paths import confine_library_files
from core.photos.decode import DecodeError
from core.photos.reader import SourceReader
from core.photos.sources import SourceError, iter_items

MIN_CALIBRATION_PHOTOS = 16
MAX_CALIBRATION_PHOTOS = 64


def calibration_batches(
    bundle: Bundle, photos: Path | Sequence[Path], limit: int = MAX_CALIBRATION_PHOTOS
) -> list[np.ndarray]:
    """Return up to ``limit`` of the photos (a folder, spread over its sub-folders; or a list of photos), each a
    normalised ``1 x 3 x H x W`` float array. :raises BundleError: with fewer than :data:`MIN_CALIBRATION_PHOTOS`."""
    items = [item for item in iter_items([photos] if isinstance(photos, Path) else photos) if item.error is None]
    step = max(1, len(items) // limit)
    batches = []
    with SourceReader() as reader:
        for item in items[::step][:limit]:
            try:
                pixels = decode_for(bundle, reader.read_item(item)).pixels
            except (SourceError, DecodeError):
                continue
            batches.append(model_input(np.stack([pixels]), bundle).contiguous().numpy())  # as the engine batches
    if len(batches) < MIN_CALIBRATION_PHOTOS:
        raise BundleError(
            f"int8 calibration needs at least {MIN_CALIBRATION_PHOTOS} readable photos of the product; "
            f"{photos if isinstance(photos, Path) else 'the photos given'} have {len(batches)}"
        )
    return batches


def export_int8(bundle: Bundle, calibration: Path | Sequence[Path], out: Path) -> Path:
    """Export the bundle to ONNX and quantize it to int8 (static, QDQ, per-channel). :returns: ``out``.

    :param calibration: photos of the product (a folder, or the photos themselves: a fold's training photos)

    The file carries no anomaly head: quantized mid-level features move its distances far (a good phone
    photo scored 41 instead of 24, over the threshold of 29), so an int8 model classifies without it.
    """
    bundle = replace(bundle, anomaly_head={})
    confine_library_files()
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = calibration_batches(bundle, calibration)

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> dict | None:
            batch = next(self._batches, None)
            return None if batch is None else {INPUT: batch}

    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="defectsort-int8-") as scratch:
        float_model = export_onnx(bundle, Path(scratch) / "float.onnx")
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(float_model), str(prepared))
        out.parent.mkdir(parents=True, exist_ok=True)
        quantize_static(
            str(prepared),
            str(out),
            _Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
        )
    write_sidecar(bundle, out, "onnx", quantization="int8")
    return out
