"""Paired evidence for the promotion gate: did the candidate fix more photos than it broke, beyond chance?

Parent and candidate classify the same photos. Only the photos where exactly one of them is right carry
evidence (McNemar's idea): *fixed* (the candidate right, the parent wrong) and *broken* (the other way
round). Were the two models equally good, each such photo would be a fair coin toss, so the exact
one-sided p-value, the chance of ``fixed`` or more heads in ``fixed + broken`` tosses, says how easily
chance alone gives so many fixes. It needs no large-sample approximation: 5 fixes and no breaks is
already p = 0.031, while one photo either way (what a 0.5-point tolerance on 29 photos weighed) is p = 0.5.
"""

from __future__ import annotations

import math

MAX_SCALE = 40  # "more photos would decide it" is worked out up to 40 times the photos there are


def chance_of_at_least(heads: int, tosses: int) -> float:
    """Return the chance of ``heads`` or more heads in ``tosses`` fair coin tosses."""
    if heads <= 0:
        return 1.0
    if heads > tosses:
        return 0.0
    return sum(math.comb(tosses, k) for k in range(heads, tosses + 1)) / (1 << tosses)  # exact integers


def p_better(fixed: int, broken: int) -> float:
    """Return the one-sided exact McNemar p-value that the candidate is better (small: it is)."""
    return chance_of_at_least(fixed, fixed + broken)


def p_worse(fixed: int, broken: int) -> float:
    """Return the one-sided exact McNemar p-value that the candidate is worse (small: it is)."""
    return chance_of_at_least(broken, fixed + broken)


def photos_to_decide(fixed: int, broken: int, photos: int, significance: float) -> int | None:
    """Return how many photos like these (fixed and broken at the same rates) would show the candidate better
    at ``significance``, or None when more of them would not (it fixes no more than it breaks, or it would
    take more than :data:`MAX_SCALE` times as many).

    :param photos: the photos ``fixed`` and ``broken`` were counted on
    """
    if fixed <= broken or photos <= 0:
        return None
    for total in range(photos, MAX_SCALE * photos + 1):
        scale = total / photos
        if p_better(round(fixed * scale), round(broken * scale)) <= significance:
            return total
    return None
