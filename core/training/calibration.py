"""Temperature scaling (Guo et al. 2017) and expected calibration error."""

from __future__ import annotations

import itertools

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
    """Return ECE: the confidence-vs-accuracy gap averaged over equal-width confidence bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict]:
    """Return per confidence bin: ``{"low", "high", "count", "confidence", "accuracy"}``."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for low, high in itertools.pairwise(edges):
        in_bin = (confidence > low) & (confidence <= high)
        rows.append(
            {
                "low": float(low),
                "high": float(high),
                "count": int(in_bin.sum()),
                "confidence": float(confidence[in_bin].mean()) if in_bin.any() else None,
                "accuracy": float(correct[in_bin].mean()) if in_bin.any() else None,
            }
        )
    return rows


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Return the mean negative log-likelihood of ``softmax(logits / temperature)``."""
    return float(F.cross_entropy(logits / temperature, labels))


def choose_review_threshold(
    probabilities: np.ndarray, labels: np.ndarray, max_share: float = 0.15, safety_quantile: float = 0.05
) -> float:
    """Pick the confidence below which photos go to Review, from validation results.

    Every validation mistake should land in Review, so the threshold sits just above the
    most confident mistake, but never sends more than ``max_share`` of the photos there.
    With no mistakes to learn from, the least confident ``safety_quantile`` is reviewed.

    :param probabilities: calibrated ``N x K`` validation probabilities
    :param labels: true classes
    :returns: the threshold (0..1)
    """
    if not len(labels):
        return 0.0
    confidence = probabilities.max(axis=1)
    wrong = probabilities.argmax(axis=1) != labels
    cap = float(np.quantile(confidence, max_share))
    if wrong.any():
        return round(min(float(confidence[wrong].max()) + 1e-3, cap), 4)
    return round(float(np.quantile(confidence, safety_quantile)), 4)
