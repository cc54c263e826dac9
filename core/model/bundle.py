"""Model bundles: a folder holding ``model.json`` and a weights file.

``model.json`` owns everything needed to use the weights: architecture, class names,
input size, normalisation, pooling, temperature, thresholds, metrics and the SHA-256 of
the weights (checked at load). The weights are a plain torchvision ``state_dict`` stored
as safetensors (or a ``.pt`` file read with ``weights_only=True``): never unpickled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from core.files import file_sha256, write_bytes_atomic, write_text_atomic
from core.model.anomaly.head import load_anomaly_head
from core.model.anomaly.network import AnomalyNet, load_anomaly_network
from core.model.network import (
    ClassMapNet,
    Pooling,
    build_torchvision_model,
    set_output_stride,
)
from core.photos.decode import DecodedImage, decode

METADATA_FILE = "model.json"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_HEATMAP_CELLS = 64 * 112  # predictions cross threads and live in the GUI by the thousand


class BundleError(Exception):
    """A bundle that cannot be used; the message says why in one line."""


@dataclass
class Bundle:
    """The metadata of a model bundle; ``folder`` is where it lives (not stored in JSON)."""

    name: str
    arch: str
    classes: list[str]
    input_size: list[int]  # [height, width]
    version: str = "1.0.0"
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    weights: str = "weights.safetensors"
    sha256: str = ""
    pooling: dict = field(default_factory=lambda: Pooling().to_json())
    output_stride: int = 32  # 16: last stage dilated for finer heatmaps (see core.model.network)
    detail_layer: int | None = None  # feature block whose detail sharpens heatmaps (core.model.refine)
    detail_window: int = 5
    temperature: float = 1.0
    subject: str = "image"  # how explanations name the photographed thing ("screen")
    normal_class: str | None = None  # the class meaning "no defect" (see core.inference.decision.normal_class_of)
    thresholds: dict = field(default_factory=dict)  # the decision numbers, see core.inference.decision.DecisionPolicy
    heatmap_cells: int = DEFAULT_HEATMAP_CELLS  # largest heatmap kept per photo
    resize: str = "bilinear"  # how photos are resized to the input (a Pillow filter name)
    fit: str = "stretch"  # "stretch" to the input's shape, or "pad" keeping the aspect ratio (core.photos.decode)
    tta: list[str] = field(default_factory=list)  # ["hflip"]: logits averaged with the mirrored photo's
    novelty: dict = field(default_factory=dict)  # unknown-photo detector, see core.model.novelty
    anomaly: dict = field(default_factory=dict)  # a good-only anomaly bank and threshold (core.model.anomaly)
    anomaly_head: dict = field(default_factory=dict)  # "not in the classes" detector (core.model.anomaly.head)
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    lineage: dict = field(default_factory=dict)  # a retrained model: its parent and the corrections used
    promotion: dict = field(default_factory=dict)  # the gate's rule and verdict (core.training.gate)
    severity: dict = field(default_factory=dict)  # {"order": worst class first, "reason"}: see core.results.phones
    baseline: dict = field(default_factory=dict)  # validation photos, for drift (core.results.report.drift)
    description: str = ""
    folder: Path | None = field(default=None, repr=False, compare=False)

    @property
    def input_hw(self) -> tuple[int, int]:
        """Return ``(height, width)`` of the model input."""
        return int(self.input_size[0]), int(self.input_size[1])

    @property
    def weights_path(self) -> Path:
        """Return the weights file inside the bundle folder."""
        if self.folder is None:
            raise BundleError(f"bundle '{self.name}' has no folder yet")
        return self.folder / self.weights

    def to_json(self) -> dict:
        """Return the contents of model.json."""
        data = asdict(self)
        data.pop("folder")
        return data


RUNTIMES_KEY = "runtimes"  # in a part of model.json: runtime name -> what that runtime uses instead


def runtime_entry(part: dict, runtime: str | None) -> dict:
    """Return what a runtime uses of a part of model.json (``novelty``, ``anomaly_head``): its own entry, fitted
    on the features it computes (:mod:`core.training.reduced_precision`), or else the float32 one.

    :param part: the part (may be empty: no such part)
    :param runtime: the runtime's name (``openvino bf16``), or None for float32
    """
    return part.get(RUNTIMES_KEY, {}).get(runtime) or part


def load_bundle(folder: str | Path) -> Bundle:
    """Read a bundle's metadata and check it is complete (the weights are not loaded yet).

    :param folder: the bundle folder (or its model.json)
    :returns: a :class:`Bundle`
    :raises BundleError: missing files, bad JSON, unknown keys' values
    """
    folder = Path(folder)
    if folder.name == METADATA_FILE:
        folder = folder.parent
    meta_path = folder / METADATA_FILE
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"no {METADATA_FILE} in {folder}") from None
    except (OSError, ValueError) as error:
        raise BundleError(f"cannot read {meta_path}: {error}") from None
    known = {f for f in Bundle.__dataclass_fields__ if f != "folder"}
    try:
        bundle = Bundle(**{k: v for k, v in data.items() if k in known}, folder=folder)
    except TypeError as error:
        raise BundleError(f"{meta_path} is incomplete: {error}") from None
    if not bundle.weights_path.is_file():
        raise BundleError(f"weights file '{bundle.weights}' missing from {folder}")
    return bundle


def decode_for(bundle: Bundle, data: bytes) -> DecodedImage:
    """Return ``data`` decoded and fitted to the bundle's input, as the engine does (no thumbnail).

    :raises DecodeError: when the bytes are not a usable image
    """
    return decode(data, bundle.input_hw, None, bundle.resize, bundle.fit)


def build_network(bundle: Bundle, verify: bool = True) -> ClassMapNet | AnomalyNet:
    """Load the bundle's weights (strictly) into its torchvision model, in eval mode.

    :param bundle: the bundle to load
    :param verify: check the weights' SHA-256 against model.json first
    :returns: a :class:`ClassMapNet` ready for inference (an :class:`AnomalyNet` for an anomaly bundle)
    :raises BundleError: hash mismatch or weights that do not fit the architecture
    """
    path = bundle.weights_path
    if verify and bundle.sha256 and file_sha256(path) != bundle.sha256:
        raise BundleError(f"weights of '{bundle.name}' do not match the SHA-256 in model.json (file changed?)")
    model = build_torchvision_model(bundle.arch, len(bundle.classes))
    try:
        model.load_state_dict(read_state_dict(path), strict=True)
    except RuntimeError as error:
        raise BundleError(f"weights do not fit {bundle.arch}: {str(error).splitlines()[0]}") from None
    if bundle.anomaly:
        try:
            return load_anomaly_network(model, bundle.arch, bundle.weights_path.parent, bundle.anomaly).eval()
        except (OSError, ValueError, KeyError) as error:
            raise BundleError(f"anomaly model of '{bundle.name}' cannot be used: {error}") from None
    set_output_stride(model, bundle.output_stride)
    head = None
    if bundle.anomaly_head:
        try:
            head = load_anomaly_head(bundle.weights_path.parent, bundle.anomaly_head)
        except (OSError, ValueError, KeyError) as error:
            raise BundleError(f"anomaly head of '{bundle.name}' cannot be used: {error}") from None
    return ClassMapNet(model, bundle.arch, Pooling.from_json(bundle.pooling), bundle.detail_layer, head).eval()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a state_dict from safetensors or a torch file, never unpickling objects."""
    state: dict[str, torch.Tensor]
    if Path(path).suffix == ".safetensors":
        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    return state


def save_bundle(bundle: Bundle, model: torch.nn.Module, folder: str | Path) -> Bundle:
    """Write weights and model.json into ``folder`` (created if needed), atomically each.

    :param bundle: metadata; ``sha256`` and ``folder`` are filled in
    :param model: the plain torchvision model whose state_dict is saved
    :param folder: destination folder
    :returns: the bundle as saved
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bundle.folder = folder
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    write_bytes_atomic(bundle.weights_path, save(state))
    bundle.sha256 = file_sha256(bundle.weights_path)
    write_metadata(bundle)
    return bundle


def write_metadata(bundle: Bundle) -> None:
    """Rewrite model.json of a saved bundle (e.g. after calibration added a temperature)."""
    text = json.dumps(bundle.to_json(), indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(bundle.weights_path.parent / METADATA_FILE, text)
