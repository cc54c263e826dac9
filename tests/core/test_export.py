"""The window's export on bad days: a photo gone before export, same names, the decisions as the window made them."""

import json

from core.inference.decision import DecisionPolicy
from core.inference.engine import Engine
from core.photos.sources import iter_items
from core.results.session_export import ExportOptions, export_session
from tests.images import screen_photo


def test_a_vanished_photo_is_named_and_the_rest_is_exported_without_overwriting(random_bundle, tmp_path):
    photos = tmp_path / "photos"
    for folder in ("a", "b"):
        (photos / folder).mkdir(parents=True)
        for number in range(2):
            screen_photo(number).save(photos / folder / f"{number}.jpg")  # the same names in two folders
    predictions = list(Engine(random_bundle).classify(iter_items([photos])))
    (photos / "b" / "1.jpg").unlink()  # gone before the export
    policy = DecisionPolicy.from_bundle(random_bundle).with_review_threshold(0.0)  # everything settled
    problems = []
    folder = export_session(
        tmp_path / "export",
        [(p, "good") for p in predictions],  # the inspector put every photo in Good
        random_bundle,
        policy,
        ExportOptions(overlays=True),
        on_error=lambda prediction, reason: problems.append((prediction.source, reason)),
    )
    assert [source for source, _ in problems] == [str(photos / "b" / "1.jpg")] * 2  # its copy and its overlay
    assert all(reason.startswith(("not copied:", "no overlay:")) and "\n" not in reason for _, reason in problems)
    copies = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
    assert copies == ["good/0.jpg", "good/0_2.jpg", "good/1.jpg"]  # same names kept apart, nothing overwritten
    document = json.loads((folder / "results.json").read_text())
    assert len(document["items"]) == 4 and document["summary"]["total"] == 4  # the results still list all four
    first = document["items"][0]
    assert (first["final_label"], first["settled_by"], first["status"]) == ("good", "inspector", "ok")
    again = export_session(tmp_path / "export", [(p, None) for p in predictions[:1]], random_bundle, policy)
    assert again != folder and again.parent == folder  # a non-empty target gets a dated sub-folder
