"""Augmentation suited to inspection photos taken by more than one camera.

Geometric: flips, a few degrees of rotation, the product smaller or larger and off-centre
in the frame (uncovered pixels take the photo's border colour), mild crops that keep the
defect in view; masks follow every geometric change. Photometric (:func:`camera_variation`):
exposure, white balance, contrast, soft focus, sensor noise and JPEG compression, in random
strengths around those of :mod:`core.photos.conditions` (which the robustness check renders at fixed ones);
a grey camera's photos stay grey.
"""

from __future__ import annotations

import io

# isort: off
from core.torchvision_compat import torchvision  # noqa: F401  (must come before any torchvision import)

# isort: on
import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as TF

from core.photos.conditions import border_colour

_CROP_TRIES = 4


def build_augmentation(size: tuple[int, int]) -> T.Compose:
    """Return the geometric training transform for ``(height, width)`` inputs (uint8 image + mask),
    without the affine step, which :func:`augment` adds with each photo's own border colour."""
    height, width = size
    aspect = width / height
    return T.Compose(
        [
            T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(),
            T.RandomApply([T.RandomResizedCrop(size, scale=(0.8, 1.0), ratio=(aspect * 0.9, aspect * 1.1))], p=0.3),
        ]
    )


def _placement(border: tuple[int, int, int]) -> T.RandomApply:
    """Rotation, scale and shift of the product in the frame, filling with ``border`` (masks with 0)."""
    fill = {tv_tensors.Image: border, tv_tensors.Mask: 0}
    affine = T.RandomAffine(degrees=6, translate=(0.1, 0.08), scale=(0.72, 1.08), fill=fill)
    return T.RandomApply([affine], p=0.6)


def _chance(p: float) -> bool:
    return bool(torch.rand(()) < p)


def _uniform(low: float, high: float) -> float:
    return float(low + (high - low) * torch.rand(()))


def camera_variation(image: torch.Tensor, jpeg_at_camera_scale: bool = False, grey: bool = False) -> torch.Tensor:
    """Photograph ``image`` (``3 x H x W`` uint8) as another camera might: random exposure, white
    balance, contrast, soft focus, noise and JPEG compression, each applied only some of the time.

    :param jpeg_at_camera_scale: compress at 1-3x the input's size, as a camera compresses its full
        photo (its 8x8 blocks then shrink with it): what the unknown-photo detector is fitted on.
        Training the classifier with it came out worse on one seed (see the README), so training
        compresses at the input's size.
    :param grey: the camera is a grey one: the copy stays grey (white balance, colour noise and JPEG's colour
        planes would otherwise tint a photo the product's camera can never take)
    """
    pixels = image.float()
    if _chance(0.6):
        pixels = pixels * _uniform(0.6, 1.45)  # exposure
    if _chance(0.5):
        gains = torch.tensor([_uniform(0.82, 1.2), 1.0, _uniform(0.75, 1.2)]).view(3, 1, 1)
        pixels = pixels * gains  # white balance
    if _chance(0.3):
        mean = pixels.mean()
        pixels = (pixels - mean) * _uniform(0.75, 1.3) + mean  # contrast
    if _chance(0.25):
        sigma = _uniform(0.3, 1.5)
        pixels = TF.gaussian_blur(pixels[None], [5, 5], [sigma, sigma])[0]  # soft focus
    if _chance(0.3):
        pixels = pixels + torch.randn_like(pixels) * _uniform(1.0, 9.0)  # sensor noise
    result = pixels.clamp(0, 255).round().to(torch.uint8)
    if _chance(0.3):
        result = _jpeg(result, int(_uniform(8, 70)), _uniform(1.0, 3.0) if jpeg_at_camera_scale else 1.0)
    return as_grey(result) if grey else result


def as_grey(image: torch.Tensor) -> torch.Tensor:
    """Return ``image`` (``3 x H x W`` uint8) with each pixel's three channels set to their mean."""
    return image.float().mean(0, keepdim=True).round().to(torch.uint8).expand_as(image).contiguous()


def _jpeg(image: torch.Tensor, quality: int, camera_scale: float) -> torch.Tensor:
    """A JPEG round trip with Pillow (torchvision's encoder needs its compiled ops), done at
    ``camera_scale`` times the input's size: a camera compresses its full-size photo, whose 8x8
    blocks then shrink with the photo."""
    photo = Image.fromarray(image.permute(1, 2, 0).numpy())
    size = photo.size
    if camera_scale > 1.05:
        photo = photo.resize((round(size[0] * camera_scale), round(size[1] * camera_scale)), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    decoded = Image.open(buffer).convert("RGB")
    if decoded.size != size:
        decoded = decoded.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return torch.from_numpy(np.asarray(decoded).copy()).permute(2, 0, 1)


def augment(
    transform: T.Compose,
    image: torch.Tensor,
    mask: torch.Tensor,
    jpeg_at_camera_scale: bool = False,
    grey: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ``transform``, the placement and :func:`camera_variation`, retrying when a crop or shift
    pushed the whole defect out of view.

    :param image: ``3 x H x W`` uint8
    :param mask: ``1 x H x W`` float (all zero when the photo has no mask)
    :param jpeg_at_camera_scale: see :func:`camera_variation`
    :param grey: see :func:`camera_variation`
    :returns: the augmented image and mask
    """
    had_defect = bool(mask.max() > 0)
    placement = _placement(border_colour(image.permute(1, 2, 0).numpy()))
    for _ in range(_CROP_TRIES):
        new_image, new_mask = placement(*transform(tv_tensors.Image(image), tv_tensors.Mask(mask)))
        if not had_defect or new_mask.max() > 0:
            varied = camera_variation(new_image.as_subclass(torch.Tensor), jpeg_at_camera_scale, grey)
            return varied, new_mask.as_subclass(torch.Tensor)
    return camera_variation(image, jpeg_at_camera_scale, grey), mask
