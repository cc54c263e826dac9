"""Drift: does tonight's batch look like the photos the model knows?

A run's :meth:`~core.results.report.run_stats.RunStats.profile` is compared with a reference: the model's
validation baseline (``model.json`` ``baseline``) and the pooled profile of its last runs
(:mod:`core.results.report.history`). Each measure gets a test and a flag in plain words when the change is
both *significant* (unlikely to be chance) and *large* (worth someone's morning):

- class mix: population stability index ``PSI = sum((p - q) * ln(p / q))`` over the labels (shares
  floored at 0.5 %), flagged at ``PSI >= 0.25`` (the usual "major shift" line) when a chi-square
  goodness-of-fit test against the reference mix gives ``p < 0.01``;
- unknown share and review share: a chi-square test (1 degree of freedom) of the count against the
  reference share, flagged when ``p < 0.01`` and the share rose by at least 5 percentage points;
- mean confidence: a z-test of the mean against the reference spread, flagged when ``|z| >= 3`` and the
  mean fell by at least 5 points.

Fewer than :data:`MIN_PHOTOS` classified photos are never flagged: too few to tell.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.model.bundle import Bundle
from core.results.report.history import pooled_profile, recent_runs
from core.results.report.run_stats import RunStats

PSI_LIMIT = 0.25
P_LIMIT = 0.01
SHARE_RISE = 0.05
CONFIDENCE_DROP = 0.05
Z_LIMIT = 3.0
MIN_PHOTOS = 20
SHARE_FLOOR = 0.005
TESTS = (
    f"class mix: PSI >= {PSI_LIMIT} and chi-square p < {P_LIMIT}; unknown and review shares: chi-square "
    f"p < {P_LIMIT} and a rise of >= {SHARE_RISE:.0%}; mean confidence: |z| >= {Z_LIMIT} and a drop of "
    f">= {CONFIDENCE_DROP:.0%}; no flag under {MIN_PHOTOS} photos"
)


@dataclass(frozen=True)
class DriftFlag:
    """One significant change: what changed, against what, by how much, in words."""

    measure: str  # class_mix, unknown_share, review_share, mean_confidence
    against: str  # baseline (the validation photos) or history (the last runs)
    tonight: float
    usual: float
    statistic: float
    p_value: float | None
    message: str

    def to_dict(self) -> dict:
        """Return the flag as JSON."""
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in asdict(self).items()}


def chi2_sf(statistic: float, dof: int) -> float:
    """Return the chi-square survival function ``P(X >= statistic)`` for ``dof`` degrees of freedom (exact)."""
    half = statistic / 2.0
    if statistic <= 0:
        return 1.0
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    total = math.erfc(math.sqrt(half))
    for i in range(1, (dof + 1) // 2):
        total += math.exp((i - 0.5) * math.log(half) - half - math.lgamma(i + 0.5))
    return min(1.0, total)


def population_stability(tonight: dict[str, float], usual: dict[str, float]) -> float:
    """Return the PSI between two share distributions over the union of their labels."""
    labels = set(tonight) | set(usual)
    total = 0.0
    for label in labels:
        p, q = max(tonight.get(label, 0.0), SHARE_FLOOR), max(usual.get(label, 0.0), SHARE_FLOOR)
        total += (p - q) * math.log(p / q)
    return total


def compare(profile: dict, reference: dict, against: str) -> list[DriftFlag]:
    """Test tonight's profile against a reference profile.

    :param profile: this run's profile
    :param reference: the baseline's or the history's profile (same keys)
    :param against: ``baseline`` or ``history`` (named in the flags' words)
    :returns: the flags raised, largest concern first
    """
    count, reference_count = profile["photos"], reference.get("photos") or 0
    if count < MIN_PHOTOS or not reference_count:
        return []
    usual = "on the validation photos" if against == "baseline" else "usually"
    flags = [
        _share_flag("unknown", profile, reference, against, usual, "has the camera changed?"),
        _share_flag("review", profile, reference, against, usual, "photos harder to judge (focus, lighting?)"),
        _confidence_flag(profile, reference, against, usual),
        _mix_flag(profile, reference, against, usual),
    ]
    return [flag for flag in flags if flag is not None]


def _share_flag(key: str, profile: dict, reference: dict, against: str, usual: str, hint: str) -> DriftFlag | None:
    count, hits = profile["photos"], profile[key]
    # the reference share, smoothed: a baseline with none of them still expects a few
    expected_share = (reference[key] + 0.5) / (reference["photos"] + 1.0)
    share = hits / count
    statistic = (hits - count * expected_share) ** 2 / (count * expected_share * (1 - expected_share))
    p_value = chi2_sf(statistic, 1)
    if p_value >= P_LIMIT or share - reference[key] / reference["photos"] < SHARE_RISE:
        return None
    name = {"unknown": "Unknown photos", "review": "Photos sent to Review"}[key]
    usual_share = reference[key] / reference["photos"]
    message = f"{name}: {share:.0%} tonight against {usual_share:.0%} {usual} — {hint}"
    return DriftFlag(f"{key}_share", against, share, usual_share, statistic, p_value, message)


def _confidence_flag(profile: dict, reference: dict, against: str, usual: str) -> DriftFlag | None:
    mean, usual_mean = profile.get("mean_confidence"), reference.get("mean_confidence")
    spread = max(reference.get("confidence_std") or 0.0, 0.01)
    if mean is None or usual_mean is None:
        return None
    z = (mean - usual_mean) / (spread / math.sqrt(profile["photos"]))
    if z > -Z_LIMIT or usual_mean - mean < CONFIDENCE_DROP:
        return None
    message = (
        f"Mean confidence: {mean:.1%} tonight against {usual_mean:.1%} {usual} — the model is less sure than "
        "usual (camera, lighting or a new kind of photo?)"
    )
    return DriftFlag("mean_confidence", against, mean, usual_mean, z, None, message)


def _mix_flag(profile: dict, reference: dict, against: str, usual: str) -> DriftFlag | None:
    tonight, expected = _shares(profile), _shares(reference)
    psi = population_stability(tonight, expected)
    labels = sorted(set(tonight) | set(expected))
    count = profile["photos"]
    statistic = sum(
        (profile["labels"].get(label, 0) - count * max(expected.get(label, 0.0), SHARE_FLOOR)) ** 2
        / (count * max(expected.get(label, 0.0), SHARE_FLOOR))
        for label in labels
    )
    p_value = chi2_sf(statistic, max(1, len(labels) - 1))
    if psi < PSI_LIMIT or p_value >= P_LIMIT:
        return None
    moved = max(labels, key=lambda label: abs(tonight.get(label, 0.0) - expected.get(label, 0.0)))
    message = (
        f"Class mix: {moved} {tonight.get(moved, 0.0):.0%} tonight against {expected.get(moved, 0.0):.0%} {usual} "
        f"(PSI {psi:.2f}) — a different batch of returns, or photos the model reads differently?"
    )
    return DriftFlag("class_mix", against, tonight.get(moved, 0.0), expected.get(moved, 0.0), psi, p_value, message)


def _shares(profile: dict) -> dict[str, float]:
    total = sum(profile["labels"].values()) or 1
    return {label: count / total for label, count in profile["labels"].items()}


def drift_section(profile: dict, baseline: dict, history: dict | None, runs: int) -> dict:
    """The JSON ``drift`` section: tonight's profile, both references and every flag raised.

    The class mix of the validation photos is the dataset's, not the returns centre's: it is compared
    only until there is a history of real runs; the other measures are compared with both.

    :param profile: tonight's profile
    :param baseline: the bundle's baseline (may be empty)
    :param history: the pooled profile of the last runs, or None
    :param runs: how many runs ``history`` pools
    :returns: the section
    """
    flags = compare(profile, baseline, "baseline") if baseline else []
    if history:
        flags = [flag for flag in flags if flag.measure != "class_mix"]
        flags += compare(profile, history, "history")
    return {
        "tonight": profile,
        "baseline": baseline or None,
        "history": history,
        "history_runs": runs,
        "tests": TESTS,
        "flags": [flag.to_dict() for flag in flags],
    }


def drift_for(bundle: Bundle, stats: RunStats, run_id: str) -> dict:
    """Return the drift section of a run: against the bundle's baseline and the model's recent runs."""
    model = {"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256}
    recent = recent_runs(model, run_id)
    return drift_section(stats.profile(), bundle.baseline, pooled_profile(recent), len(recent))
