"""The promotion gate weighs evidence photo by photo: an exact McNemar test, both ways, and says when it is thin."""

import math

import pytest

from core.training import gate
from core.training.paired import chance_of_at_least, p_better, p_worse, photos_to_decide


def test_the_exact_test_counts_coin_tosses():
    assert p_better(5, 0) == 1 / 32  # five fixes and no break: chance gives that once in 32
    assert p_better(8, 2) == (math.comb(10, 8) + math.comb(10, 9) + 1) / 1024
    assert p_better(0, 0) == 1.0 and p_better(1, 0) == 0.5  # one photo either way is a coin toss
    assert p_worse(2, 8) == p_better(8, 2)
    assert chance_of_at_least(600, 1200) == pytest.approx(0.5115, abs=1e-4)  # big counts stay exact integers
    assert photos_to_decide(3, 0, 8, 0.05) == 13  # 3 of 8 fixed, none broken: 13 photos would show 5 of 0
    assert photos_to_decide(2, 3, 10, 0.05) is None  # more of the same never shows it better


def _part(photos: int, fixed: int, broken: int, defect_fixed: int = 0, defect_broken: int = 0) -> dict:
    rest = photos - fixed - broken
    return {
        "photos": photos,
        "parent": {"macro_f1": 0.9, "correct": rest + broken},
        "candidate": {"macro_f1": 0.9, "correct": rest + fixed},
        "agreement": {
            "counts": {"fixed": fixed, "broken": broken, "both_right": rest, "both_wrong": 0},
            "defect_counts": {"fixed": defect_fixed, "broken": defect_broken},
        },
    }


def _verdict(frozen: dict, held: dict) -> tuple[bool, str]:
    passed, reasons = gate.verdict({gate.FROZEN: frozen, gate.CORRECTIONS: held})
    return passed, "\n".join(reasons)


def test_a_candidate_better_on_the_corrections_and_not_worse_on_the_holdout_passes():
    # one photo broken on a 29-photo holdout is 3.4 points of macro-F1: the old 0.5-point rule refused on it
    passed, said = _verdict(_part(29, 0, 1, 0, 1), _part(20, 6, 0))
    assert passed, said
    assert "fixed 6, broke 0 of 20 (p = 0.0156): better" in said and "not worse beyond chance" in said


def test_thin_evidence_is_said_with_how_many_more_corrections_would_decide():
    passed, said = _verdict(_part(29, 0, 0), _part(8, 3, 0))
    assert not passed
    assert "too little evidence yet; about 20 more corrections like these would decide it (5 more held back)" in said


def test_a_candidate_that_breaks_the_holdout_is_refused_whatever_the_corrections_say():
    # rotated labels: the candidate learns the day's wrong labels and forgets the classes
    passed, said = _verdict(_part(40, 1, 9, 0, 0), _part(20, 15, 0))
    assert not passed and "frozen holdout, photos: fixed 1, broke 9 (WORSE beyond chance" in said
    passed, said = _verdict(_part(40, 6, 6, 0, 6), _part(20, 15, 0))  # even when only the defects suffer
    assert not passed and "frozen holdout, defect photos: fixed 0, broke 6 (WORSE" in said


def test_a_candidate_no_better_on_the_corrections_is_refused():
    passed, said = _verdict(_part(29, 0, 0), _part(20, 3, 3))
    assert not passed and "fixed 3, broke 3 of 20 (p = 0.656): NOT better" in said


def test_the_verdict_in_the_inspectors_words():
    def words(frozen: dict, held: dict) -> str:
        return gate.judge({gate.FROZEN: frozen, gate.CORRECTIONS: held})[2]

    assert words(_part(29, 0, 1, 0, 1), _part(20, 6, 0)) == (
        "The new version is better: it gets 20 of 20 of your set-aside corrections right (the current version 14), "
        "and it is no worse on the 29 check photos."
    )
    assert words(_part(29, 0, 0), _part(8, 3, 0)) == (
        "Not enough corrections yet to be sure: it gets 8 of 8 of your set-aside corrections right (the current "
        "version 5); about 20 more corrections would decide."
    )
    assert words(_part(40, 1, 9), _part(20, 15, 0)) == (
        "Keep the current version: the new one gets 9 of the 40 check photos wrong that the current one gets right, "
        "and fixes only 1."
    )
    assert words({}, {}) == "The new version cannot be checked: the photos it was trained on are not here."
