"""Temperature scaling (Guo et al. 2017) and expected calibration error."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.5, 10.0


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Find the temperature ``T`` minimising the NLL of ``softmax(logits / T)``.

    :param logits: ``N x K`` validation logits
    :param labels: ``N`` true classes
    :returns: ``T`` in ``[0.5, 10]`` (1.0 when there is nothing to fit). The lower bound
        matters when validation has no errors: the NLL then keeps falling as ``T`` goes to 0,
        which is no evidence for sharpening that far.
    """
    if len(labels) < 2:
        return 1.0
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(np.clip(log_t.exp().item(), MIN_TEMPERATURE, MAX_TEMPERATURE))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """:returns: ECE: the confidence-vs-accuracy gap averaged over equal-width confidence bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict]:
    """:returns: per confidence bin: ``{"low", "high", "count", "confidence", "accuracy"}``."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        rows.append({"low": float(low), "high": float(high), "count": int(in_bin.sum()),
                     "confidence": float(confidence[in_bin].mean()) if in_bin.any() else None,
                     "accuracy": float(correct[in_bin].mean()) if in_bin.any() else None})
    return rows


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """:returns: the mean negative log-likelihood of ``softmax(logits / temperature)``."""
    return float(F.cross_entropy(logits / temperature, labels))
