"""Classify image items in batches: decode (worker threads) -> batch -> model -> Prediction.

Decoding of the next batches runs on a small thread pool while the current batch is in
the model (Pillow and torch both release the GIL). Heatmaps come from the same forward
pass (see :mod:`core.network`). Long runs report through a plain ``progress(done, total)``
callback and stop when the ``cancel`` event is set; no Qt anywhere.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from PIL import Image

from core.bundle import Bundle, BundleError, build_network
from core.decode import DecodedImage, DecodeError, decode
from core.interpret import decide_labels, interpret
from core.network import NetworkOutputs
from core.novelty import NoveltyDetector
from core.prediction import Prediction
from core.refine import local_contrast, refined_heatmaps
from core.sources import ImageItem, SourceError

ProgressCallback = Callable[[int, int], None]


def normalise(batch: torch.Tensor, mean, std) -> torch.Tensor:
    """Scale a uint8 ``N x 3 x H x W`` batch to the model's normalised float input.

    :param batch: uint8 pixels, channels first
    :param mean: per-channel mean on the 0..1 scale (from the bundle)
    :param std: per-channel standard deviation on the 0..1 scale
    :returns: a float tensor in channels-last memory format (faster convolutions on CPU)
    """
    mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
    return ((batch.float() - mean) / std).contiguous(memory_format=torch.channels_last)


def _load_novelty(bundle: Bundle) -> NoveltyDetector | None:
    if not bundle.novelty:
        return None
    try:
        return NoveltyDetector.load(bundle.folder, bundle.novelty)
    except (OSError, ValueError, KeyError) as error:
        raise BundleError(f"unknown-photo detector of '{bundle.name}' cannot be used: {error}") from None


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


def resolve_precision(precision: str) -> str:
    """Choose the arithmetic for inference.

    bfloat16 autocast runs the phone model about 2.5x faster on CPUs that compute it
    natively (AVX-512 BF16 / AMX, as oneDNN reports) but moves probabilities by up to
    0.24 and can move a heatmap's peak to another spot (``defectsort bench`` measures
    it), so float32 is the default and bfloat16 an explicit choice. ``auto`` picks
    bfloat16 only where it is native; elsewhere it would be emulated and slower.

    :param precision: ``auto``, ``fp32`` or ``bf16``
    :returns: ``fp32`` or ``bf16``
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"unknown precision '{precision}' (auto, fp32 or bf16)")
    if precision != "auto":
        return precision
    return "bf16" if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


class Engine:
    """A loaded model ready to classify items.

    :param bundle: the model bundle
    :param batch_size: photos per forward pass (None: :func:`auto_batch_size`)
    :param threads: torch intra-op threads (None keeps torch's setting)
    :param decode_workers: threads decoding photos ahead of the model
    :param thumbnail_edge: also make thumbnails with this long edge (for the GUI), or None
    :param precision: ``fp32`` (exact), ``bf16`` or ``auto``: see :func:`resolve_precision`
    """

    def __init__(self, bundle: Bundle, batch_size: int | None = None, threads: int | None = None,
                 decode_workers: int = 2, thumbnail_edge: int | None = None, precision: str = "fp32"):
        if threads:
            torch.set_num_threads(threads)
        self.bundle = bundle
        self.network = build_network(bundle).to(memory_format=torch.channels_last)
        self.precision = resolve_precision(precision)
        self.batch_size = max(1, batch_size or auto_batch_size(bundle))
        self.decode_workers = max(1, decode_workers)
        self.thumbnail_edge = thumbnail_edge
        self.novelty = _load_novelty(bundle)
        self._warm_up()

    def _warm_up(self) -> None:
        """Pay the one-time costs now (Pillow's plugin imports, the first forward pass's setup)
        so they never stall the first real batch, or a window waiting for its results."""
        Image.init()
        height, width = self.bundle.input_hw
        self.forward(self.preprocess(np.zeros((1, height, width, 3), dtype=np.uint8)))

    def classify(self, items: Iterable[ImageItem], progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None) -> Iterator[Prediction]:
        """Yield one :class:`Prediction` per item, in order, until done or cancelled.

        :param items: image items from :func:`core.sources.collect_items`
        :param progress: called as ``progress(done, total)`` after each batch
        :param cancel: when set, stop after the current batch
        """
        items = list(items)
        done = 0
        with ThreadPoolExecutor(self.decode_workers, thread_name_prefix="decode") as pool:
            pending: deque[tuple[ImageItem, Future]] = deque()
            queue = iter(items)
            for _ in range(max(4, 2 * self.batch_size)):  # decode ahead while the model runs
                self._submit_next(pool, queue, pending)
            while pending:
                if cancel is not None and cancel.is_set():
                    for _, future in pending:
                        future.cancel()
                    return
                batch = [pending.popleft() for _ in range(min(self.batch_size, len(pending)))]
                for _ in batch:
                    self._submit_next(pool, queue, pending)
                yield from self._classify_batch([(item, future.result()) for item, future in batch])
                done += len(batch)
                if progress is not None:
                    progress(done, len(items))

    def _submit_next(self, pool, queue, pending) -> None:
        item = next(queue, None)
        if item is not None:
            pending.append((item, pool.submit(self._load, item)))

    def _load(self, item: ImageItem) -> tuple[DecodedImage, int] | str:
        """Read and decode one item; a failure becomes its one-line reason."""
        if item.error:
            return item.error
        try:
            data = item.read()
            return decode(data, self.bundle.input_hw, self.thumbnail_edge), len(data)
        except (SourceError, DecodeError) as error:
            return str(error)
        except MemoryError:
            return "not enough memory to decode this image"

    def _classify_batch(self, loaded: list[tuple[ImageItem, object]]) -> list[Prediction]:
        """Run the decoded photos of one batch through the model; failures pass straight through."""
        results = [Prediction.failed(item, outcome) if isinstance(outcome, str) else None
                   for item, outcome in loaded]
        readable = [index for index, result in enumerate(results) if result is None]
        if readable:
            pixels = np.stack([loaded[i][1][0].pixels for i in readable])
            probabilities, heatmaps, map_peaks, ood_scores = self.forward(self.preprocess(pixels))
            for row, index in enumerate(readable):
                item, (decoded, size) = loaded[index]
                results[index] = interpret(self.bundle, item, decoded, size, probabilities[row], heatmaps[row],
                                           map_peaks[row], None if ood_scores is None else ood_scores[row])
        return results

    def preprocess(self, pixels: np.ndarray) -> torch.Tensor:
        """``N x H x W x 3`` uint8 -> normalised ``N x 3 x H x W`` float tensor (channels-last memory)."""
        return normalise(torch.from_numpy(pixels).permute(0, 3, 1, 2), self.bundle.mean, self.bundle.std)

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor):
        """Run the model on a normalised batch.

        :returns: calibrated probabilities ``N x K``, each photo's heatmap for its top class,
            each class map's peak ``N x K``, and unknown-photo scores ``N`` (or None)
        """
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            outputs = self.network.forward_all(batch)
        outputs = NetworkOutputs(*(None if t is None else t.float() for t in outputs))
        probabilities = torch.softmax(outputs.logits / self.bundle.temperature, dim=1)
        labels = torch.from_numpy(decide_labels(self.bundle, probabilities.numpy()))
        chosen = outputs.maps[torch.arange(len(outputs.maps)), labels]
        if outputs.detail is not None:
            chosen = refined_heatmaps(chosen, local_contrast(outputs.detail, self.bundle.detail_window))
        ood_scores = self.novelty.scores(outputs.embedding) if self.novelty else None
        return probabilities.numpy(), chosen.float().numpy(), outputs.maps.amax(dim=(2, 3)).numpy(), ood_scores
