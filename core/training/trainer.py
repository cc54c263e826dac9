"""Fine-tune a classifier: AdamW, warm-up + cosine schedule, evened-out sampling, weight averaging.

The epoch count adapts to a time budget: after the first two epochs (the first also decodes
every photo) the trainer knows what an epoch costs and plans the cosine schedule over the
epochs that fit. By default (``keep="last"``) no epoch is chosen: the schedule runs to its end
and its weight average is kept. A small validation split cannot choose epochs: the phone
photos' scored 1.000 from the third epoch on, and the tile look-alike's (103 photos of a few
phones) picked epoch 2 of 19 and stopped the run after 224 of its 480 seconds (test accuracy
54 % against 88 % for the whole schedule). The split still sets the thresholds. With ``keep="best"``
the epoch kept is the one with the best validation macro-F1, ties broken by the lower
validation loss, and early stopping waits a third of the planned epochs at least.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from core.inference.engine import normalise
from core.model.bundle import Bundle
from core.model.network import ClassMapNet, Pooling
from core.training.augment import augment, build_augmentation
from core.training.dataset import PhotoCache, Sample
from core.training.losses import classification_loss, pointing_loss
from core.training.metrics import classification_metrics
from core.training.synthesis import DefectTransplants

SAMPLING = {  # name -> (power p: a class of n photos is drawn in proportion to n ** (1 - p), how that reads)
    "sqrt": (0.5, "by the square root of their photo counts"),
    "balanced": (1.0, "equally often"),
}


@dataclass
class TrainConfig:
    """Everything that shapes a training run (stored in model.json under ``training``)."""

    arch: str = "mobilenet_v2"
    image_size: tuple[int, int] = (224, 224)
    epochs: int = 30  # an upper bound: the time budget and early stopping usually end sooner
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    loss: str = "ce"
    label_smoothing: float = 0.05
    pooling: dict = field(default_factory=lambda: Pooling().to_json())
    output_stride: int = 32
    pointing_weight: float = 1.0
    patience: int = 6
    time_budget_s: float = 480.0  # with decoding and the final steps, a run stays within ~10 minutes; 0: none
    seed: int = 0
    miss_cost: float = 2.0  # a missed defect costs this many false alarms (sets thresholds.good_min)
    fit: str = "stretch"  # or "pad": keep the photos' aspect ratio (core.photos.decode)
    choose: tuple[str, ...] = ()  # settings to choose from the data first (core.training.plan)
    tta: str = "auto"  # flip test-time augmentation: "auto" (where it raises validation macro-F1), "off", "hflip"
    start_competes: bool = False  # the starting weights are epoch 0, kept unless an epoch beats them on validation
    freeze_batchnorm: bool = False  # keep BatchNorm statistics (fine-tuning a trained model in small pieces)
    micro_batch: int = 0  # photos per forward/backward pass, gradients added up to the batch (0: the whole batch)
    recompute: bool = False  # recompute each block in the backward pass: ~1.4x the time, half the memory (frozen BN)
    decode_variation: bool = True  # half the draws decoded from every pixel, as a lossless copy would be
    defect_synthesis: bool = True  # masked defects moved onto other clean photos (core.training.synthesis)
    keep: str = "last"  # "last": the whole schedule's end; "best": the epoch with the best validation macro-F1
    sampling: str = "sqrt"  # how imbalanced classes are drawn: one of SAMPLING
    grey: bool = False  # a grey camera's photos: augmented copies stay grey (core.training.augment)


# what a model was trained with where its model.json predates a setting: the behaviour before the setting existed
BEFORE_RECORDED = {
    "decode_variation": False,
    "defect_synthesis": False,
    "keep": "best",
    "sampling": "balanced",
    "grey": False,
}


def settings_as_trained(recorded: dict) -> dict[str, Any]:
    """The :class:`TrainConfig` settings a model was trained with, from its model.json ``training.config``.

    A setting added since it was trained is not given today's default but :data:`BEFORE_RECORDED` (a model
    trained before square-root sampling drew its classes equally): measuring or retraining it replays its recipe.

    :param recorded: the recorded settings (empty: nothing is known, nothing is filled in)
    :returns: the known settings (lists as tuples), ready for ``TrainConfig(**...)``
    """
    if not recorded:
        return {}
    known = {f.name for f in fields(TrainConfig)}
    settings = {key: tuple(v) if isinstance(v, list) else v for key, v in recorded.items() if key in known}
    return {**BEFORE_RECORDED, **settings}


def trained_grey(bundle: Bundle) -> bool:
    """Return whether a bundle was trained on a grey camera's photos (its copies as other cameras take them are
    made grey too)."""
    return bool(bundle.training.get("config", {}).get("grey", False))


class _PhotoDataset(Dataset):
    """Photos, labels and masks; with a ``transform``, augmented (and, with ``decode_variation``, half the time
    decoded from every pixel instead of the engine's way: a JPEG and its lossless copy must look alike)."""

    def __init__(
        self,
        samples: list[Sample],
        cache: PhotoCache,
        transform=None,
        jpeg_at_camera_scale=False,
        decode_variation=False,
        transplants: DefectTransplants | None = None,
        grey=False,
    ):
        self.samples, self.cache, self.transform = samples, cache, transform
        self.jpeg_at_camera_scale, self.grey = jpeg_at_camera_scale, grey
        self.decode_variation = decode_variation and transform is not None
        self.transplants = transplants if transform is not None else None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        image, mask = self._pixels(sample)
        if self.transform is not None:
            image, mask = augment(self.transform, image, mask, self.jpeg_at_camera_scale, self.grey)
        return image, sample.label, mask

    def _pixels(self, sample: Sample) -> tuple[torch.Tensor, torch.Tensor]:
        """The photo (or its defect moved onto another clean photo) and its mask, as ``3 x H x W``, ``1 x H x W``."""
        moved = self.transplants.draw(sample) if self.transplants is not None else None
        if moved is not None:
            return torch.from_numpy(moved[0]).permute(2, 0, 1), torch.from_numpy(moved[1])[None]
        every_pixel = self.decode_variation and bool(torch.rand(()) < 0.5)
        image = torch.from_numpy(self.cache.photo(sample.path, every_pixel)).permute(2, 0, 1)
        if sample.mask_path is None:
            return image, torch.zeros(1, *image.shape[1:])
        return image, torch.from_numpy(self.cache.mask(sample.mask_path))[None]


@dataclass
class TrainResult:
    """The trained network, the epoch history and the best epoch's validation outputs."""

    net: ClassMapNet
    history: list[dict]
    best_epoch: int
    val_logits: torch.Tensor
    val_labels: torch.Tensor
    stopped_because: str
    cache: PhotoCache
    moved_defects: int = 0  # training photos whose defect was also moved onto other clean photos


def train(
    net: ClassMapNet,
    train_samples: list[Sample],
    val_samples: list[Sample],
    config: TrainConfig,
    mean,
    std,
    on_epoch: Callable[[dict], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train ``net`` in place and restore the epoch ``config.keep`` names (the last, or the best by validation).

    :param net: the network to train (its ``model`` is what gets saved)
    :param train_samples: training photos
    :param val_samples: validation photos (may be empty: the last epoch is kept)
    :param config: hyper-parameters
    :param mean: normalisation mean (0..1 scale)
    :param std: normalisation standard deviation
    :param on_epoch: receives each epoch's record (loss, accuracy, time)
    :param on_step: receives ``(step, steps_in_epoch)``
    :returns: a :class:`TrainResult`
    """
    torch.manual_seed(config.seed)
    net.recompute = config.recompute
    cache = PhotoCache((config.image_size[0], config.image_size[1]), config.fit)
    loader = _train_loader(train_samples, cache, config)
    val_loader = plain_loader(val_samples, cache, config.micro_batch or config.batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    plan = {"total_steps": config.epochs * len(loader)}
    warmup = max(1, len(loader) // 2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, warmup, plan))
    loss_fn = classification_loss(config.loss, config.label_smoothing)
    ema = WeightAverage(net, steps_per_epoch=len(loader))
    history: list[dict] = []
    best = _Best()
    if config.start_competes and val_samples:
        val_loss, _, val_f1, logits, labels = _validate(net, val_loader, mean, std)
        best = _Best(val_loss, val_f1, 0, copy.deepcopy(net.model.state_dict()), logits, labels)
    started, reason = time.monotonic(), None
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.monotonic()
        train_loss, train_acc = _train_epoch(
            net, loader, optimizer, scheduler, loss_fn, config, mean, std, on_step, ema
        )
        val_loss, val_acc, val_f1, logits, labels = _validate(ema.net, val_loader, mean, std)
        seconds = time.monotonic() - epoch_start
        record = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_accuracy": train_acc,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "val_macro_f1": val_f1,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(seconds, 1),
        }
        history.append(record)
        if config.keep == "last" or not val_samples or (val_f1, -val_loss) > (best.macro_f1, -best.loss):
            best = _Best(val_loss, val_f1, epoch, copy.deepcopy(ema.net.model.state_dict()), logits, labels)
        if epoch <= 2 and config.time_budget_s > 0:  # the first epoch also decodes every photo once:
            # the second one says what an epoch costs
            fits = int((config.time_budget_s - (time.monotonic() - started)) // seconds) + epoch
            plan["total_steps"] = max(epoch, min(config.epochs, fits)) * len(loader)
        planned = plan["total_steps"] // len(loader)
        reason = _stop_reason(epoch, best.epoch, config, planned, started)
        record["epochs_planned"] = epoch if reason else planned  # stopping early: the plan ends here
        if on_epoch:
            on_epoch(record)
        if reason:
            break
    if best.state is not None:
        net.model.load_state_dict(best.state)
    net.recompute = False
    transplants = loader.dataset.transplants  # type: ignore[attr-defined]
    moved = len(transplants) if transplants is not None else 0
    return TrainResult(net, history, best.epoch, best.logits, best.labels, reason or "finished", cache, moved)


@dataclass
class _Best:
    """The epoch kept so far: best validation macro-F1, then lowest loss (the last, without validation photos)."""

    loss: float = math.inf
    macro_f1: float = -1.0
    epoch: int = 0
    state: dict[str, torch.Tensor] | None = None
    logits: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    labels: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))


class WeightAverage:
    """An exponential moving average of the weights (and BatchNorm statistics), over about an epoch.

    Validation and the saved bundle use the average: with small datasets and small batches
    the raw weights swing from epoch to epoch; their average is steadier and usually better.
    """

    def __init__(self, net: ClassMapNet, steps_per_epoch: int):
        self.net = copy.deepcopy(net).eval()
        self.decay = min(0.999, max(0.9, 1.0 - 1.0 / max(1, steps_per_epoch)))
        self.updates = 0

    @torch.no_grad()
    def update(self, net: ClassMapNet) -> None:
        """Move the average towards the current weights (faster at first, while it has little history)."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        current = net.model.state_dict()
        for name, average in self.net.model.state_dict().items():
            if average.dtype.is_floating_point:
                average.mul_(decay).add_(current[name].detach(), alpha=1.0 - decay)
            else:
                average.copy_(current[name])


def _stop_reason(epoch: int, best_epoch: int, config: TrainConfig, planned: int, started: float) -> str | None:
    if epoch >= planned:
        return "finished the planned epochs" if planned == config.epochs else "time budget"
    patience = max(config.patience, math.ceil(planned / 3))
    if config.keep == "best" and epoch - best_epoch >= patience:
        return f"early stopping: no better validation macro-F1 or loss for {patience} epochs"
    return None


def _lr_factor(step: int, warmup: int, plan: dict) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, plan["total_steps"] - warmup))
    return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * progress))


def _train_loader(samples: list[Sample], cache: PhotoCache, config: TrainConfig) -> DataLoader:
    """Sampling that evens out imbalanced classes (:func:`class_draw_weights`), and samples of weight above 1
    (corrections) drawn that much more often than their classmates."""
    size = (config.image_size[0], config.image_size[1])
    transplants = DefectTransplants(samples, cache) if config.defect_synthesis else None
    dataset = _PhotoDataset(
        samples,
        cache,
        build_augmentation(size),
        decode_variation=config.decode_variation,
        transplants=transplants,
        grey=config.grey,
    )
    generator = torch.Generator().manual_seed(config.seed)
    weights = draw_weights(samples, config.sampling)
    if weights is not None:
        sampler = WeightedRandomSampler(weights.tolist(), num_samples=len(samples), generator=generator)
        return DataLoader(
            dataset, batch_size=config.batch_size, sampler=sampler, drop_last=len(samples) > config.batch_size
        )
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        generator=generator,
        drop_last=len(samples) > config.batch_size,
    )


def draw_weights(samples: list[Sample], sampling: str) -> np.ndarray | None:
    """Return how often training draws each photo (relative), or None when photos are simply shuffled.

    :param samples: the training photos (a weight above 1, a correction's, draws it that much more often)
    :param sampling: how imbalanced classes are evened out (:func:`class_draw_weights`)
    """
    labels = np.array([s.label for s in samples])
    emphasis = np.array([s.weight for s in samples], dtype=np.float64)
    imbalanced = classes_imbalanced(samples)
    if not imbalanced and (emphasis == 1.0).all():
        return None
    per_class = class_draw_weights(np.bincount(labels, weights=emphasis), sampling, imbalanced)
    return np.asarray(per_class[labels] * emphasis)


def classes_imbalanced(samples: list[Sample]) -> bool:
    """Return whether the largest class has over 1.5 times the photos of the smallest (sampling evens them out)."""
    counts = np.bincount([s.label for s in samples])
    present = counts[counts > 0]
    return bool(present.max() > 1.5 * present.min())


def class_draw_weights(counts: np.ndarray, sampling: str, imbalanced: bool) -> np.ndarray:
    """Return each class's weight per photo, so that a class of ``n`` photos is drawn in proportion to ``n``
    (classes about even), ``1`` (``"balanced"``: every class equally often) or ``sqrt(n)`` (``"sqrt"``: a rare class
    more often than its share, each of its photos seen fewer times than under ``"balanced"``).

    :param counts: photos (or their summed weights) per class
    :param sampling: a name of :data:`SAMPLING`
    :param imbalanced: whether the largest class is over 1.5 times the smallest
    :returns: one weight per class (0 for a class without photos)
    """
    if not imbalanced:
        return np.ones(len(counts))
    power = SAMPLING[sampling][0]
    return np.where(counts > 0, 1.0 / np.maximum(counts, 1e-12) ** power, 0.0)


def _train_epoch(
    net, loader, optimizer, scheduler, loss_fn, config, mean, std, on_step, ema: WeightAverage
) -> tuple[float, float]:
    net.train()
    if config.freeze_batchnorm:
        for module in net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()  # the running statistics stay; the affine weights still learn
    total_loss, correct, seen = 0.0, 0, 0
    for step, (images, labels, masks) in enumerate(loader, 1):
        optimizer.zero_grad(set_to_none=True)
        size = config.micro_batch or len(labels)
        for start in range(0, len(labels), size):
            part = slice(start, start + size)
            logits, maps = net(normalise(images[part], mean, std))
            loss = loss_fn(logits, labels[part])
            if config.pointing_weight:
                loss = loss + config.pointing_weight * pointing_loss(maps, labels[part], masks[part])
            share = len(logits) / len(labels)
            (loss * share).backward()  # gradients add up to the whole batch's
            total_loss += loss.item() * len(logits)
            correct += int((logits.argmax(1) == labels[part]).sum())
        optimizer.step()
        scheduler.step()
        ema.update(net)
        seen += len(labels)
        if on_step:
            on_step(step, len(loader))
    return total_loss / max(seen, 1), correct / max(seen, 1)


@torch.no_grad()  # not inference_mode: temperature fitting later needs these logits in autograd
def collect_outputs(
    net: ClassMapNet, loader: DataLoader, mean, std, mirrored: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run ``net`` (in eval mode) over a loader without augmentation.

    :param mirrored: flip every photo left to right first (to measure flip test-time augmentation)
    :returns: logits ``N x K``, embeddings ``N x C`` and labels ``N``
    """
    net.eval()
    logits, embeddings, labels = [], [], []
    for images, batch_labels, _ in loader:
        outputs = net.forward_all(normalise(images.flip(3) if mirrored else images, mean, std))
        logits.append(outputs.logits)
        embeddings.append(outputs.embedding)
        labels.append(torch.as_tensor(batch_labels))
    if not logits:
        return torch.empty(0), torch.empty(0), torch.empty(0, dtype=torch.long)
    return torch.cat(logits), torch.cat(embeddings), torch.cat(labels)


def _validate(net, loader, mean, std) -> tuple[float, float, float, torch.Tensor, torch.Tensor]:
    """Return validation loss, accuracy, macro-F1 (over the classes present), logits and labels."""
    logits, _, labels = collect_outputs(net, loader, mean, std)
    if not len(labels):
        return math.nan, math.nan, math.nan, logits, labels
    loss = float(F.cross_entropy(logits, labels))
    predicted = logits.argmax(1)
    f1 = classification_metrics(labels.numpy(), predicted.numpy(), [str(i) for i in range(logits.shape[1])])
    return loss, float((predicted == labels).float().mean()), f1["macro_f1"], logits, labels


def plain_loader(samples: list[Sample], cache: PhotoCache, batch_size: int) -> DataLoader:
    """Return a loader over ``samples`` without augmentation, in order."""
    return DataLoader(_PhotoDataset(samples, cache), batch_size=batch_size)


def augmented_loader(samples: list[Sample], cache: PhotoCache, batch_size: int, grey: bool = False) -> DataLoader:
    """Return a loader over ``samples`` with the training augmentation and JPEG compression at a camera's
    scale too (each pass draws new variations): what the unknown-photo detector is fitted on.

    :param grey: the copies stay grey (a model trained on a grey camera's photos: :func:`trained_grey`)
    """
    dataset = _PhotoDataset(samples, cache, build_augmentation(cache.size), jpeg_at_camera_scale=True, grey=grey)
    return DataLoader(dataset, batch_size=batch_size)
