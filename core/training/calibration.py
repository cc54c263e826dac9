"""Temperature scaling (Guo et al. 2017), expected calibration error and the Review threshold."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

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
    confidence: np.ndarray,
    correct: np.ndarray,
    copies: Sequence[tuple[np.ndarray, np.ndarray]] = (),
    max_share: float = 0.15,
    safety_quantile: float = 0.05,
) -> float:
    """Pick the confidence below which photos go to Review, from validation results.

    Every validation mistake should land in Review, so the threshold sits just above the
    most confident mistake, but never sends more than ``max_share`` of the photos as shot there.
    A few dozen validation photos hold few mistakes, often none; their augmented ``copies`` (the
    same photos lit, framed and compressed differently) show where the model's confident mistakes
    lie, so theirs count too. With no mistakes at all, the least confident ``safety_quantile``
    of the photos as shot is reviewed.

    :param confidence: ``N`` calibrated confidences of the validation photos as shot, in the label the
        policy decides (:meth:`core.inference.decision.DecisionPolicy.decide_labels`)
    :param correct: ``N`` booleans: that label is the true class
    :param copies: ``(confidence, correct)`` of augmented copies of the same photos, one pair per pass
    :returns: the threshold (0..1)
    """
    if not len(confidence):
        return 0.0
    cap = float(np.quantile(confidence, max_share))
    mistakes = np.concatenate([confidence[~correct]] + [copy[~right] for copy, right in copies])
    if len(mistakes):
        return round(min(float(mistakes.max()) + 1e-3, cap), 4)
    return round(float(np.quantile(confidence, safety_quantile)), 4)
