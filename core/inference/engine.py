"""Classify image items in stages: read + decode (threads) -> batch -> forward -> post-process -> Prediction.

Each stage is a small function: :meth:`Engine.preprocess` (pixels -> normalised tensor),
:meth:`Engine.forward` (the raw network outputs, :class:`core.model.network.NetworkOutputs`),
:func:`core.inference.postprocess.postprocess` (every decision, by the :class:`DecisionPolicy`) and
:func:`core.inference.interpret.interpret` (the Prediction). Decoding of the next batches runs on a
small thread pool while the current batch is in the model, and an exported runtime's model runs on a thread
of its own: the next batch goes through the network while the one before is decided and handed on (Pillow,
torch, ONNX Runtime and OpenVINO all release the GIL). Long runs report through a plain ``progress(done, total)``
callback (the total grows while the sources are still being walked) and stop when ``cancel`` is set; no Qt.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

import numpy as np
import torch
from PIL import Image

from core.inference.decision import DecisionPolicy
from core.inference.interpret import ReadPhoto, interpret
from core.inference.postprocess import postprocess
from core.inference.prediction import Prediction
from core.inference.runtime import REDUCED_PRECISION_DETECTORS, resolve_backend, resolve_precision, runtime_name
from core.model.anomaly.memory import load_bank
from core.model.anomaly.network import AnomalyNet
from core.model.bundle import RUNTIMES_KEY, Bundle, BundleError, build_network, runtime_entry
from core.model.network import ClassMapNet, NetworkOutputs
from core.model.novelty import NoveltyDetector
from core.model.onnx_backend import OnnxNetwork, cached_onnx
from core.model.openvino_backend import OpenVinoNetwork
from core.photos.decode import DecodeError, decode
from core.photos.reader import SourceReader
from core.photos.sources import ImageItem, SourceError
from core.photos.stream import ItemStream

ProgressCallback = Callable[[int, int], None]
Loaded = ReadPhoto | str  # what was read, or why it failed
_T = TypeVar("_T")
log = logging.getLogger(__name__)


class CancelFlag(Protocol):
    """Anything with ``is_set()``: a :class:`threading.Event`, or the GUI's per-job flag."""

    def is_set(self) -> bool: ...


def normalise(batch: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """Scale a uint8 ``N x 3 x H x W`` batch to the model's normalised float input.

    :param batch: uint8 pixels, channels first
    :param mean: per-channel mean on the 0..1 scale (from the bundle)
    :param std: per-channel standard deviation on the 0..1 scale
    :returns: a float tensor in channels-last memory format (faster convolutions on CPU)
    """
    shift = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
    scale = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
    return ((batch.float() - shift) / scale).contiguous(memory_format=torch.channels_last)


def _load_novelty(bundle: Bundle, runtime: str) -> NoveltyDetector | None:
    """The unknown-photo detector for ``runtime``: its own when the bundle has one, else the float32 one."""
    if not bundle.novelty:
        return None
    entry = runtime_entry(bundle.novelty, runtime)
    if entry is bundle.novelty and runtime in REDUCED_PRECISION_DETECTORS:
        log.warning(
            "'%s' has no unknown-photo detector fitted on %s features: its float32 one may flag more photos "
            "Unknown (defectsort fit-reduced-precision fits one)",
            bundle.name,
            runtime,
        )
    try:
        return NoveltyDetector.load(bundle.weights_path.parent, entry)
    except (OSError, ValueError, KeyError) as error:
        raise BundleError(f"unknown-photo detector of '{bundle.name}' cannot be used: {error}") from None


def _runtime_head_bank(bundle: Bundle, runtime: str) -> torch.Tensor | None:
    """The anomaly-head bank fitted on ``runtime``'s own patches, when the bundle has one."""
    entry = bundle.anomaly_head.get(RUNTIMES_KEY, {}).get(runtime)
    if not entry:
        return None
    try:
        return load_bank(bundle.weights_path.parent, entry).float()
    except (OSError, ValueError, KeyError) as error:
        raise BundleError(f"anomaly head of '{bundle.name}' for {runtime} cannot be used: {error}") from None


def model_input(pixels: np.ndarray, bundle: Bundle) -> torch.Tensor:
    """``N x H x W x 3`` uint8 photos -> the bundle's normalised ``N x 3 x H x W`` float input (channels-last)."""
    return normalise(torch.from_numpy(pixels).permute(0, 3, 1, 2), bundle.mean, bundle.std)


def auto_batch_size(bundle: Bundle) -> int:
    """Photos per forward pass for a bundle's input size.

    On CPUs, large inputs run fastest one at a time (the activations of a batch no longer
    fit the caches: the phone model at 384x672 does 13.7 img/s alone and 5.6 img/s in
    batches of 8 on this project's 2-core machine); small inputs gain from batching.

    :returns: a power of two from 1 to 16, about 400,000 input pixels per batch
    """
    height, width = bundle.input_hw
    size = 1
    while size < 16 and 2 * size * height * width <= 400_000:
        size *= 2
    return size


class _Forwarded(NamedTuple):
    """A batch between the stages: what was loaded, the readable photos (by batch index), the network's outputs."""

    loaded: list[tuple[ImageItem, Loaded]]
    readable: list[tuple[int, ImageItem, ReadPhoto]]
    outputs: NetworkOutputs | None


class _RightHere:
    """An executor that runs each task at once, on the calling thread (a stand-in for a thread pool)."""

    def __enter__(self) -> _RightHere:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def submit(self, work: Callable[..., _T], *args: object) -> Future[_T]:
        future: Future[_T] = Future()
        future.set_result(work(*args))
        return future


class Engine:
    """A loaded model ready to classify items.

    :param bundle: the model bundle
    :param batch_size: photos per forward pass (None: :func:`auto_batch_size`)
    :param threads: the model's threads (torch's intra-op ones, or the exported runtime's; None: torch's setting)
    :param decode_workers: threads decoding photos ahead of the model
    :param thumbnail_edge: also make thumbnails with this long edge (for the GUI), or None
    :param precision: ``fp32`` (exact), ``bf16`` or ``auto``: see :func:`core.inference.runtime.resolve_precision`
    :param policy: how outputs become results (default: the bundle's own); may be replaced later
    :param backend: ``torch`` (the reference), ``onnxruntime``, ``openvino`` or ``auto``
        (see :func:`core.inference.runtime.resolve_backend`)
    :param onnx_file: for ONNX Runtime or OpenVINO, this exported file (e.g. an int8 one) instead of the cached export
    :param export_in_child: make a missing export in a child process, whose memory goes with it (the service)
    """

    def __init__(
        self,
        bundle: Bundle,
        batch_size: int | None = None,
        threads: int | None = None,
        decode_workers: int = 2,
        thumbnail_edge: int | None = None,
        precision: str = "auto",
        policy: DecisionPolicy | None = None,
        backend: str = "torch",
        onnx_file: Path | None = None,
        export_in_child: bool = False,
    ):
        if threads:
            torch.set_num_threads(threads)
        self.bundle = bundle
        self.backend = "torch" if bundle.anomaly else resolve_backend(backend)  # an anomaly model's search: torch
        self.precision = resolve_precision(precision, self.backend)
        self.network: ClassMapNet | AnomalyNet | OnnxNetwork | OpenVinoNetwork
        if self.backend == "torch":
            network = build_network(bundle)
            network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack it
            self.network = network
        else:
            exported = onnx_file or cached_onnx(bundle, export_in_child)
            if self.backend == "onnxruntime":
                self.network = OnnxNetwork(exported, bundle, threads)
            else:
                head = _runtime_head_bank(bundle, runtime_name(self.backend, self.precision))
                self.network = OpenVinoNetwork(exported, bundle, self.precision, threads, head)
            self.precision = self.network.quantization or self.precision  # an int8 file runs as int8
        self.batch_size = max(1, batch_size or auto_batch_size(bundle))
        self.decode_workers = max(1, decode_workers)
        self.thumbnail_edge = thumbnail_edge
        self.runtime = runtime_name(self.backend, self.precision)  # how reports and tables name what runs the model
        self.policy = policy or DecisionPolicy.from_bundle(bundle, self.runtime)
        self.novelty = _load_novelty(bundle, self.runtime)
        self._warm_up()

    def _warm_up(self) -> None:
        """Pay the one-time costs now (Pillow's plugin imports, the first forward pass's setup)
        so they never stall the first real batch, or a window waiting for its results."""
        Image.init()
        height, width = self.bundle.input_hw
        outputs = self.forward(self.preprocess(np.zeros((1, height, width, 3), dtype=np.uint8)))
        postprocess(outputs, self.policy, self.novelty, self.bundle.detail_window)

    def classify(
        self, items: Iterable[ImageItem], progress: ProgressCallback | None = None, cancel: CancelFlag | None = None
    ) -> Iterator[Prediction]:
        """Yield one :class:`Prediction` per item, in order, until done or cancelled.

        Archives are opened once for the run and closed when it ends (or is cancelled).

        :param items: image items, e.g. :func:`core.photos.sources.iter_items` (consumed as it goes)
        :param progress: called as ``progress(done, found)`` after each batch (``found`` may grow)
        :param cancel: when set, stop after the current batch
        """
        stream = items if isinstance(items, ItemStream) else ItemStream(items)
        lookahead = max(4, 2 * self.batch_size)  # photos decoded ahead while the model runs
        done = 0
        with (
            stream,
            SourceReader() as reader,
            ThreadPoolExecutor(self.decode_workers, "decode") as pool,
            self._model_thread() as model,
        ):
            pending: deque[tuple[ImageItem, Future[Loaded]]] = deque()
            in_model: Future[_Forwarded] | None = None  # the batch in the model while the one before is decided

            def decode_ahead(may_wait: bool) -> None:
                """Queue found photos for decoding; wait for the walk only when nothing else is left to do."""
                while len(pending) < lookahead:
                    item = stream.poll(wait=may_wait and not pending)
                    if item is None:
                        return
                    pending.append((item, pool.submit(self._load, item, reader)))

            decode_ahead(may_wait=True)
            while pending or in_model is not None:
                if cancel is not None and cancel.is_set():
                    for _, future in pending:
                        future.cancel()
                    return
                deciding, in_model = in_model, None
                if pending:
                    batch = [pending.popleft() for _ in range(min(self.batch_size, len(pending)))]
                    decode_ahead(may_wait=False)  # the current batch never waits for the walk
                    in_model = model.submit(self._forward_batch, [(item, future.result()) for item, future in batch])
                if deciding is not None:
                    predictions = self._decide_batch(deciding.result())
                    yield from predictions
                    done += len(predictions)
                    if progress is not None:
                        progress(done, max(done, stream.found))
                decode_ahead(may_wait=in_model is None)  # a batch in the model is decided before waiting

    def _model_thread(self) -> ThreadPoolExecutor | _RightHere:
        """Where the network runs: a thread of its own for the exported runtimes, which overlap with torch's
        decisions; torch's own model runs right here (two OpenMP teams at once on two cores ran at 12 photos/s
        instead of 22)."""
        return _RightHere() if self.backend == "torch" else ThreadPoolExecutor(1, "model")

    def _load(self, item: ImageItem, reader: SourceReader) -> Loaded:
        """Read and decode one item; a failure becomes its one-line reason."""
        if item.error:
            return item.error
        try:
            data = reader.read_item(item)
            decoded = decode(data, self.bundle.input_hw, self.thumbnail_edge, self.policy.resize, self.policy.fit)
            return ReadPhoto(decoded, len(data), hashlib.sha256(data).hexdigest())
        except (SourceError, DecodeError) as error:
            return str(error)
        except MemoryError:
            return "not enough memory to decode this image"

    def _forward_batch(self, loaded: list[tuple[ImageItem, Loaded]]) -> _Forwarded:
        """Run the readable photos of one batch through the network (on the model thread)."""
        readable = [
            (index, item, outcome) for index, (item, outcome) in enumerate(loaded) if isinstance(outcome, ReadPhoto)
        ]
        if not readable:
            return _Forwarded(loaded, readable, None)
        pixels = np.stack([photo.decoded.pixels for _, _, photo in readable])
        return _Forwarded(loaded, readable, self.forward(self.preprocess(pixels)))

    def _decide_batch(self, forwarded: _Forwarded) -> list[Prediction]:
        """Decide and word a batch's photos; failures pass straight through."""
        results = {
            index: Prediction.failed(item, outcome)
            for index, (item, outcome) in enumerate(forwarded.loaded)
            if isinstance(outcome, str)
        }
        if forwarded.outputs is not None:
            readable = forwarded.readable
            decisions = postprocess(
                forwarded.outputs,
                self.policy,
                self.novelty,
                self.bundle.detail_window,
                [photo.decoded.content for _, _, photo in readable],
            )
            classes = self.policy.classes
            for (index, item, photo), decision in zip(readable, decisions):
                results[index] = interpret(decision, item, photo, classes, self.bundle.subject)
        return [results[index] for index in range(len(forwarded.loaded))]

    def preprocess(self, pixels: np.ndarray) -> torch.Tensor:
        """``N x H x W x 3`` uint8 -> normalised ``N x 3 x H x W`` float tensor (channels-last memory)."""
        return model_input(pixels, self.bundle)

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> NetworkOutputs:
        """Run the model on a normalised batch.

        :returns: the raw network outputs (logits, class maps, fine detail, embedding) as float32
        """
        bf16_autocast = self.backend == "torch" and self.precision == "bf16"
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_autocast):
            outputs = self.network.forward_all(batch)  # ClassMapNet, or the same graph on ONNX Runtime
            logits = outputs.logits.float()
            if "hflip" in self.bundle.tta:  # test-time augmentation, chosen at training where it paid
                logits = (logits + self.network.forward_all(batch.flip(3)).logits.float()) / 2
        return NetworkOutputs(
            logits,
            outputs.maps.float(),
            None if outputs.detail is None else outputs.detail.float(),
            outputs.embedding.float(),
            None if outputs.anomaly is None else outputs.anomaly.float(),
        )
