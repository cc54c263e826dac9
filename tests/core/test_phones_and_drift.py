"""Per-phone verdicts, drift statistics and the run history."""

import pytest

from core.model.bundle import Bundle
from core.results.phones import (
    PhoneGrouping,
    PhotoOfPhone,
    parse_severity,
    phone_verdict,
    phone_verdicts,
    severity_order,
)
from core.results.report import history
from core.results.report.drift import MIN_PHOTOS, chi2_sf, compare, drift_section, population_stability
from core.results.report.run_stats import RunStats

ORDER = ["stain", "scratch", "oil", "good"]


def photo(name: str, label: str | None, confidence: float | None = 0.99, status: str = "ok") -> PhotoOfPhone:
    return PhotoOfPhone(f"/returns/{name}", name, label, confidence, status)


def test_the_worst_photo_decides_and_comes_first():
    photos = [photo("a_front.jpg", "good"), photo("a_back.jpg", "oil", 0.97), photo("a_side.jpg", "scratch", 0.9)]
    verdict = phone_verdict("a", photos, ORDER)
    assert verdict.verdict == "scratch" and verdict.decided_by.name == "a_side.jpg"
    assert [p.name for p in verdict.photos] == ["a_side.jpg", "a_front.jpg", "a_back.jpg"]
    # two photos of the worst label: the more confident one decides
    tie = phone_verdict("b", [photo("1.jpg", "stain", 0.91), photo("2.jpg", "stain", 0.999)], ORDER)
    assert tie.decided_by.name == "2.jpg" and tie.to_dict()["confidence"] == 0.999


@pytest.mark.parametrize(
    ("status", "reason"),
    [("review", "below the review threshold"), ("unknown", "unlike the photos"), ("error", "could not be classified")],
)
def test_a_doubtful_or_failed_photo_puts_the_phone_in_review(status, reason):
    doubtful = photo("back.jpg", None if status == "error" else "good", None, status)
    photos = [photo("front.jpg", "stain", 0.999), doubtful]
    verdict = phone_verdict("p", photos, ORDER)
    assert verdict.verdict == "review" and verdict.decided_by.name == "back.jpg" and reason in verdict.reason


def test_grouping_by_pattern_or_folder():
    by_serial = PhoneGrouping(r"^(\d{15})_")
    assert by_serial.phone_of("/in/356789012345678_front.jpg", "356789012345678_front.jpg") == "356789012345678"
    assert by_serial.phone_of("/in/other.jpg", "other.jpg") is None  # stands alone
    in_path = PhoneGrouping(r"phone-(\w+)/")  # no match in the name: the path is searched
    assert in_path.phone_of("day.zip!/phone-A7/front.jpg", "front.jpg") == "A7"
    by_folder = PhoneGrouping("folder")
    assert by_folder.phone_of("day.zip!/phone-A7/front.jpg", "front.jpg") == "day.zip!/phone-A7"
    assert by_folder.phone_of(r"C:\returns\A7\front.jpg", "front.jpg") == "C:/returns/A7"
    phones = phone_verdicts(
        [photo("111111111111111_a.jpg", "good"), photo("lonely.jpg", "oil"), photo("111111111111111_b.jpg", "stain")],
        by_serial,
        ORDER,
    )
    assert [(p.phone, p.verdict, len(p.photos)) for p in phones] == [
        ("111111111111111", "stain", 2),
        ("/returns/lonely.jpg", "oil", 1),
    ]
    with pytest.raises(ValueError, match="not a valid regular expression"):
        PhoneGrouping("([0-9]+")


def test_severity_order_and_its_checks():
    bundle = Bundle(name="m", arch="mobilenet_v2", classes=["good", "oil", "scratch"], input_size=[8, 8])
    assert severity_order(bundle) == ["oil", "scratch", "good"]  # no order stored: "good" is the least severe
    bundle.severity = {"order": ["scratch", "good", "oil"]}
    assert severity_order(bundle) == ["scratch", "good", "oil"]
    assert parse_severity(" stain, scratch,oil ,good", ORDER[::-1]) == ORDER
    for wrong in ("stain,scratch,oil", "stain,scratch,oil,good,good", "stain,scratch,oil,dirt"):
        with pytest.raises(ValueError, match="must name every class once"):
            parse_severity(wrong, ORDER)


def test_chi_square_tail_and_population_stability():
    assert chi2_sf(3.841, 1) == pytest.approx(0.05, abs=1e-3)
    assert chi2_sf(9.488, 4) == pytest.approx(0.05, abs=1e-3)
    assert chi2_sf(0.0, 3) == 1.0
    assert population_stability({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}) == 0.0
    assert population_stability({"a": 0.9, "b": 0.1}, {"a": 0.5, "b": 0.5}) > 0.25


def profile(photos: int, unknown: int = 0, review: int = 0, mean: float = 0.99, mix=None) -> dict:
    stats = RunStats()
    labels = mix or {"good": photos}
    index = 0
    for label, count in labels.items():
        for _ in range(count):
            status = "unknown" if index < unknown else "review" if index < unknown + review else "ok"
            stats.add({"source": str(index), "name": str(index), "label": label, "confidence": mean, "status": status})
            index += 1
    result = stats.profile()
    result["confidence_std"] = 0.02
    return result


def test_a_camera_change_is_flagged_in_plain_words():
    baseline = profile(100, unknown=1)
    tonight = profile(50, unknown=7)
    flags = compare(tonight, baseline, "baseline")
    assert [f.measure for f in flags] == ["unknown_share"]
    expected = "Unknown photos: 14% tonight against 1% on the validation photos — has the camera changed?"
    assert flags[0].message == expected
    assert flags[0].p_value < 0.01
    # the same share on too few photos, or a night like the others: no flag
    assert compare(profile(MIN_PHOTOS - 1, unknown=5), baseline, "baseline") == []
    assert compare(profile(200, unknown=2), baseline, "baseline") == []


def test_confidence_and_class_mix_flags():
    baseline = profile(100, mix={"good": 50, "stain": 50})
    unsure = profile(60, mean=0.8, mix={"good": 30, "stain": 30})
    assert [f.measure for f in compare(unsure, baseline, "history")] == ["mean_confidence"]
    shifted = profile(100, mix={"good": 95, "stain": 5})
    flags = compare(shifted, baseline, "history")
    assert [f.measure for f in flags] == ["class_mix"] and "usually" in flags[0].message
    # once there is a history of real nights, the validation photos' mix is no longer a reference
    section = drift_section(shifted, baseline, profile(300, mix={"good": 290, "stain": 10}), runs=5)
    assert section["flags"] == [] and section["history_runs"] == 5


def test_history_pools_recent_runs_and_replaces_a_finished_run_again(tmp_path):
    path = tmp_path / "history.jsonl"
    model = {"name": "m", "version": "1", "sha256": "abc"}
    for night in range(4):
        history.record_run(model, f"run{night}", profile(100, unknown=night), {"new": 100}, path)
    history.record_run(model, "run3", profile(100, unknown=3), {"new": 0}, path)  # --resume of a finished run
    history.record_run({**model, "sha256": "other"}, "x", profile(10), {}, path)
    recent = history.recent_runs(model, "run3", path)
    assert [run["run"] for run in recent] == ["run0", "run1", "run2"]
    pooled = history.pooled_profile(recent)
    assert pooled["photos"] == 300 and pooled["unknown"] == 3
    assert history.pooled_profile(recent[:2]) is None  # too few runs to say what is usual
    path.write_text(path.read_text() + '{"torn li')  # a crash while writing does not lose the rest
    assert len(history.recent_runs(model, "none", path)) == 4


def test_results_written_item_by_item_are_the_same_bytes_as_at_once(tmp_path):
    from core.results.files import write_json, write_json_streaming

    for items in ([], [{"source": "a.jpg", "boxes": [[0.1, 0.2]], "explanation": "Stain: «here»"}, {"x": None}]):
        document = {"model": {"name": "m"}, "summary": {"total": len(items)}, "items": items, "phones": [{"p": 1}]}
        write_json(tmp_path / "whole.json", document)
        head = {"model": document["model"], "summary": document["summary"]}
        write_json_streaming(tmp_path / "streamed.json", head, iter(items), {"phones": document["phones"]})
        assert (tmp_path / "streamed.json").read_bytes() == (tmp_path / "whole.json").read_bytes()


def test_doubt_folders_never_take_a_class_folder():
    from core.results.final import FinalDecision, SectionFolders

    def folder(classes, final):
        return SectionFolders(classes).folder_of(final)

    settled_review = FinalDecision("review", "ok", "review", "model")
    in_doubt = FinalDecision("review", "review", None, None)
    assert folder(["good", "bad"], in_doubt) == "review"
    assert folder(["ok", "Review"], settled_review) == "review"  # a class named review keeps its folder...
    assert folder(["ok", "review"], in_doubt) == "_review"  # ...and the photos in doubt go beside it
    assert folder(["unknown", "_unknown"], FinalDecision("unknown", "unknown", None, None)) == "__unknown"
    assert folder(["good"], FinalDecision("error", "error", None, None)) is None


def test_the_final_decision_settles_what_the_inspector_decided():
    from core.inference.prediction import Prediction
    from core.results.final import final_decision

    doubt = Prediction(source="a", name="a", label="stain", confidence=0.6, status="review")
    assert (final_decision(doubt).section, final_decision(doubt).label) == ("review", None)
    moved = final_decision(doubt, "good")
    assert (moved.section, moved.status, moved.settled_by, moved.corrected) == ("good", "ok", "inspector", True)
    confirmed = final_decision(doubt, "stain")
    assert (confirmed.status, confirmed.corrected, confirmed.by_inspector) == ("ok", False, True)
    accepted = final_decision(Prediction(source="b", name="b", label="oil", confidence=0.99))
    assert (accepted.section, accepted.settled_by) == ("oil", "model")
    error = final_decision(Prediction(source="c", name="c", status="error", error="broken"), "good")
    assert (error.section, error.label, error.settled) == ("error", None, False)
