"""The memory bank of good patches: a greedy k-center coreset, and nearest-neighbour distances to it.

Both work in chunks so that memory stays bounded whatever the number of patches (a few hundred
photos give hundreds of thousands). Pure torch.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from core.files import file_sha256

CHUNK = 4096  # query rows per distance block
MAX_CANDIDATES = 120_000  # patches a coreset is chosen from (a random sample beyond that)


def flat_patches(embeddings: torch.Tensor) -> torch.Tensor:
    """Return ``N x D x h x w`` patch embeddings as ``(N*h*w) x D`` rows."""
    return embeddings.float().permute(0, 2, 3, 1).reshape(-1, embeddings.shape[1])


def patch_distances(embeddings: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
    """Return ``N x h x w`` distances of ``N x D x h x w`` patch embeddings to their nearest bank row."""
    count, _, height, width = embeddings.shape
    return nearest_distances(flat_patches(embeddings), bank).reshape(count, height, width)


def coreset_bank(patches: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """Return ``size`` rows of the ``P x D`` good ``patches`` that cover them (:func:`greedy_coreset`),
    chosen among at most :data:`MAX_CANDIDATES` of them."""
    if len(patches) > MAX_CANDIDATES:
        sample = torch.randperm(len(patches), generator=torch.Generator().manual_seed(seed))[:MAX_CANDIDATES]
        patches = patches[sample]
    return patches[greedy_coreset(patches, min(size, len(patches)), seed=seed)].contiguous()


def load_bank(folder: Path, meta: dict) -> torch.Tensor:
    """Return the bank in ``folder / meta["file"]`` (safetensors, key ``bank``).

    :raises ValueError: a file that changed since model.json recorded its SHA-256
    """
    path = Path(folder) / meta["file"]
    if meta.get("sha256") and file_sha256(path) != meta["sha256"]:
        raise ValueError(f"{path.name} does not match the SHA-256 in model.json (file changed?)")
    bank: torch.Tensor = load_file(str(path))["bank"]
    return bank


def nearest_distances(queries: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
    """Return for each of the ``Q x D`` queries, the Euclidean distance to its nearest row of ``bank``."""
    bank_norms = (bank * bank).sum(dim=1)
    result = torch.empty(len(queries), dtype=queries.dtype)
    for start in range(0, len(queries), CHUNK):
        block = queries[start : start + CHUNK]
        squared = (block * block).sum(dim=1, keepdim=True) + bank_norms - 2.0 * block @ bank.T
        result[start : start + CHUNK] = squared.amin(dim=1).clamp_min(0.0).sqrt()
    return result


def greedy_coreset(points: torch.Tensor, size: int, projected_dim: int = 64, seed: int = 0) -> torch.Tensor:
    """Choose ``size`` rows that cover ``points`` (each new one the farthest from those chosen so far).

    Distances are measured after a random projection to ``projected_dim`` dimensions (they are
    nearly preserved and the selection runs several times faster), as PatchCore does.

    :param points: ``P x D`` patch embeddings
    :param size: rows to keep
    :returns: the indices of the chosen rows
    """
    if size >= len(points):
        return torch.arange(len(points))
    generator = torch.Generator().manual_seed(seed)
    if points.shape[1] > projected_dim:
        projection = torch.randn(points.shape[1], projected_dim, generator=generator) / projected_dim**0.5
        points = points @ projection
    norms = (points * points).sum(dim=1)  # |p - c|^2 = |p|^2 - 2 p.c + |c|^2: one matrix-vector product a step
    chosen = torch.empty(size, dtype=torch.long)
    chosen[0] = int(torch.randint(len(points), (1,), generator=generator))
    nearest = norms - 2.0 * (points @ points[chosen[0]]) + norms[chosen[0]]
    for step in range(1, size):
        chosen[step] = int(nearest.argmax())
        torch.minimum(nearest, norms - 2.0 * (points @ points[chosen[step]]) + norms[chosen[step]], out=nearest)
    return chosen
