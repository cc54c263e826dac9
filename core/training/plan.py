"""Training settings chosen from the data and the time budget, for what the user did not set.

* **fit**: photos of varied shapes (the 95th percentile of width/height over the 5th above
  :data:`PAD_SPREAD`) are padded to keep their aspect ratio; photos of one shape are resized.
* **input size**: the input takes the photos' median shape (its aspect ratio clipped to 1:2..2:1
  when padding) and their median long side, rounded to :data:`STEP` and within
  :data:`MIN_SIDE`..:data:`MAX_SIDE`: small photos are not blown up (96x96 castings: 99.5 % at
  96 and at 160, 99.7 % at 224 in twice the time), large ones are shrunk only as far as the
  time budget needs: a probe times a few training steps on this machine, and the side shrinks
  until the epochs needed (:func:`epochs_needed`) fit into the budget.
* **batch size** from the input's pixels (32 at 224x224, fewer for larger inputs) and the
  **learning rate** from the batch size (1e-3 at 32, square-root scaling).
* **grey** (only with ``--grey auto``; off by default: on the tile look-alike it did not pay): when every
  photo is grey (a grey mode, or colour channels equal everywhere), the training augmentation keeps its copies
  grey, as the product's camera takes them (no white-balance tint, colour noise or JPEG colour planes).

Every choice is printed with its reason and stored in model.json (``training.choices``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F

from core.model.network import ClassMapNet
from core.training.data_profile import DataProfile, profile_dataset
from core.training.trainer import TrainConfig

CHOOSABLE = ("fit", "image_size", "batch_size", "lr", "grey")
PAD_SPREAD = 1.4
MIN_SIDE, MAX_SIDE, STEP = 96, 512, 32
IMAGES_SEEN = 8000  # training images (with repeats) a fine-tune needs at least...
MIN_EPOCHS, MAX_EPOCHS = 8, 30  # ...in this many epochs
DATA_OVERHEAD = 1.05  # augmentation and validation beside the timed steps (the probe alone came within 6 %)
REFERENCE_PIXELS = 224 * 224

StepTimer = Callable[[tuple[int, int], int], float]  # (input size, batch) -> seconds per training image


def epochs_needed(train_photos: int) -> int:
    """Return the epochs a run should fit in its budget: enough images seen, within 8..30 epochs."""
    return max(MIN_EPOCHS, min(MAX_EPOCHS, math.ceil(IMAGES_SEEN / max(1, train_photos))))


def plan_training(
    config: TrainConfig, profile: DataProfile, train_photos: int, seconds_per_image: StepTimer
) -> tuple[TrainConfig, dict]:
    """Fill in the settings named in ``config.choose``.

    :param config: the requested configuration (its ``choose`` lists what may be chosen)
    :param profile: the dataset's profile
    :param train_photos: photos in the training split
    :param seconds_per_image: times training steps at an input size and batch on this machine
    :returns: the configuration to train with and ``{setting: {"value", "reason"}}`` for each choice
    """
    choices: dict[str, dict] = {}
    fit = config.fit
    if "fit" in config.choose:
        fit = "pad" if profile.aspect_spread > PAD_SPREAD else "stretch"
        reason = f"photo shapes differ {profile.aspect_spread:.2f}x (5th-95th percentile of width/height)"
        choices["fit"] = {"value": fit, "reason": reason + (": padded, not squashed" if fit == "pad" else "")}
    size, batch = (int(config.image_size[0]), int(config.image_size[1])), config.batch_size
    if "image_size" in config.choose:
        size, reason = _input_size(profile, fit, train_photos, config, seconds_per_image)
        choices["image_size"] = {"value": list(size), "reason": reason}
    if "batch_size" in config.choose:
        batch = batch_for(size, train_photos)
        choices["batch_size"] = {"value": batch, "reason": f"{size[0]}x{size[1]} inputs, {train_photos} photos"}
    lr = config.lr
    if "lr" in config.choose:
        lr = round(1e-3 * math.sqrt(batch / 32), 6)
        choices["lr"] = {"value": lr, "reason": f"1e-3 at batch 32, square-root scaled to batch {batch}"}
    grey = config.grey
    if "grey" in config.choose:
        grey = profile.all_grey
        choices["grey"] = {"value": grey, "reason": _grey_reason(profile)}
    planned = replace(config, fit=fit, image_size=size, batch_size=batch, lr=lr, grey=grey, choose=())
    return planned, choices


def _grey_reason(profile: DataProfile) -> str:
    photos = len(profile.widths)
    if profile.all_grey:
        return f"all {photos} photos are grey (a grey camera's): augmented copies stay grey, never tinted"
    return f"{photos - profile.grey} of {photos} photos are in colour: augmented copies vary their colour too"


def batch_for(size: tuple[int, int], train_photos: int) -> int:
    """Return 32 for inputs up to 224x224, halved as the input grows (at least 8), at most a quarter
    of the training photos."""
    batch = 32
    while batch > 8 and size[0] * size[1] > REFERENCE_PIXELS * 1.3 * (32 / batch):
        batch //= 2
    return max(2, min(batch, train_photos // 4 or 2))


def _input_size(
    profile: DataProfile, fit: str, train_photos: int, config: TrainConfig, seconds_per_image: StepTimer
) -> tuple[tuple[int, int], str]:
    aspect = profile.median_aspect
    if fit == "pad":
        aspect = min(2.0, max(0.5, aspect))
    native = min(MAX_SIDE, max(MIN_SIDE, round_to_step(profile.median_long_side)))
    size = input_shape(native, aspect)
    epochs = epochs_needed(train_photos)
    cost = seconds_per_image(size, batch_for(size, train_photos)) * DATA_OVERHEAD
    needed = epochs * train_photos * cost
    if needed <= config.time_budget_s:
        return size, f"the photos' median shape at their median long side ({profile.median_long_side} px)"
    long_side = round_to_step(native * math.sqrt(config.time_budget_s / needed), down=True)
    size = input_shape(max(MIN_SIDE, long_side), aspect)
    return size, (
        f"median shape, long side {native} px would leave {epochs} epochs {needed / config.time_budget_s:.1f}x "
        f"over the {config.time_budget_s / 60:.3g}-minute budget: shrunk to fit"
    )


def input_shape(long_side: int, aspect: float) -> tuple[int, int]:
    """Return ``(height, width)`` with this long side and about this width/height, multiples of :data:`STEP`."""
    if aspect >= 1:
        return max(STEP, round_to_step(long_side / aspect)), long_side
    return long_side, max(STEP, round_to_step(long_side * aspect))


def round_to_step(value: float, down: bool = False) -> int:
    steps = math.floor(value / STEP) if down else round(value / STEP)
    return max(1, steps) * STEP


def seconds_per_image(net: ClassMapNet, size: tuple[int, int], batch: int, steps: int = 2) -> float:
    """Time training steps (forward, loss, backward) of a copy of ``net`` on random inputs.

    :param size: ``(height, width)`` of the input
    :param batch: photos per step
    :param steps: timed steps, after one untimed warm-up step
    :returns: the fastest step's seconds per photo on this machine
    """
    probe = copy.deepcopy(net).train()
    images = torch.randn(batch, 3, *size).contiguous(memory_format=torch.channels_last)
    labels = torch.zeros(batch, dtype=torch.long)
    times = []
    for _ in range(steps + 1):
        started = time.monotonic()
        logits, _ = probe(images)
        F.cross_entropy(logits, labels).backward()
        times.append(time.monotonic() - started)
    return min(times[1:]) / batch


def plan_for_data(
    config: TrainConfig, classes, samples, train_photos: int, net: ClassMapNet, say
) -> tuple[TrainConfig, dict]:
    """Profile the dataset, choose the settings the user left open (:func:`plan_training`) and say why.

    :returns: the configuration to train with and what model.json keeps of the choice
    """
    if not config.choose:
        return config, {}
    profile = profile_dataset(classes, samples)
    say(profile.describe())
    planned, choices = plan_training(
        config, profile, train_photos, lambda size, batch: seconds_per_image(net, size, batch)
    )
    for setting, choice in choices.items():
        say(f"Chose {setting} {choice['value']}: {choice['reason']}.")
    return planned, {"data_profile": profile.to_json(), "choices": choices}
