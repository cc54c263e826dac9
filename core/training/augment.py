"""Augmentation suited to inspection photos: flips, small rotations, light and contrast,
mild crops that keep the defect in view. Masks follow every geometric change."""

from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2 as T

from core.torchvision_compat import torchvision  # noqa: F401  (must come before any torchvision import)

_CROP_TRIES = 4


def build_augmentation(size: tuple[int, int]) -> T.Compose:
    """:returns: the training transform for ``(height, width)`` inputs (uint8 image + mask)."""
    height, width = size
    aspect = width / height
    return T.Compose(
        [
            T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(),
            T.RandomApply([T.RandomAffine(degrees=8, translate=(0.03, 0.03), scale=(0.95, 1.08))], p=0.5),
            T.RandomApply([T.RandomResizedCrop(size, scale=(0.8, 1.0), ratio=(aspect * 0.9, aspect * 1.1))], p=0.5),
            T.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.15),
        ]
    )


def augment(transform: T.Compose, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ``transform``, retrying when a crop or shift pushed the whole defect out of view.

    :param image: ``3 x H x W`` uint8
    :param mask: ``1 x H x W`` float (all zero when the photo has no mask)
    :returns: the augmented image and mask
    """
    had_defect = bool(mask.max() > 0)
    for _ in range(_CROP_TRIES):
        new_image, new_mask = transform(tv_tensors.Image(image), tv_tensors.Mask(mask))
        if not had_defect or new_mask.max() > 0:
            return new_image.as_subclass(torch.Tensor), new_mask.as_subclass(torch.Tensor)
    return image, mask
