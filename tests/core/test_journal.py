"""The session journal: crash-safe appends, replay of undo/redo, the audit CSV, bad files."""

import csv
import sqlite3

import numpy as np
import pytest

from core.inference.prediction import Prediction
from core.journal.restore import clear_sessions, export_audit_csv, list_sessions, load_session, unfinished_session
from core.journal.session import DO, REDO, RELABEL, REMOVE, UNDO, UNREMOVE, Edit, JournalError, JournalWriter
from core.photos.sources import SourceRef

MODEL = ("phone-defects", "1.0.0", "ab" * 32)


def _prediction(number, label="scratch"):
    return Prediction(
        source=f"batch.zip!/day1/{number}.jpg",
        name=f"{number}.jpg",
        label=label,
        confidence=0.9,
        probabilities={"good": 0.1, label: 0.9},
        status="ok",
        peak=(0.25, 0.5),
        box=[0.1, 0.2, 0.3, 0.4],
        boxes=[[0.1, 0.2, 0.3, 0.4]],
        description="Scratch (90 %): ...",
        ood_score=0.01,
        heatmap=np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4),
        image_size=(640, 360),
        file_size=1234,
        sha256=f"{number:064d}",
        ref=SourceRef("batch.zip", ("day1", f"{number}.jpg")),
    )


@pytest.fixture
def journal(tmp_path):
    writer = JournalWriter(tmp_path / "journal.sqlite3")
    yield writer
    writer.close()


def _session(writer, count=3):
    writer.begin_session("s1", *MODEL)
    photos = [(key, _prediction(key)) for key in range(1, count + 1)]
    writer.add_photos("s1", photos)
    return dict(photos)


def test_a_session_replays_moves_undo_redo_and_removals(journal):
    photos = _session(journal)
    edits = [
        Edit(RELABEL, DO, 1, photos[1], None, "oil"),
        Edit(RELABEL, DO, 2, photos[2], None, "stain"),
        Edit(RELABEL, UNDO, 2, photos[2], "stain", None),
        Edit(RELABEL, REDO, 2, photos[2], None, "stain"),
        Edit(RELABEL, DO, 1, photos[1], "oil", "good"),
        Edit(REMOVE, DO, 3, photos[3]),
        Edit(UNREMOVE, UNDO, 3, photos[3]),
    ]
    journal.add_edits("s1", MODEL, edits)
    assert journal.flush()
    restored = load_session(journal.path, "s1")
    assert restored.labels == {1: "good", 2: "stain"} and restored.removed == set() and restored.corrections == 2
    again = dict(restored.photos)[1]
    assert again.to_dict() == photos[1].to_dict() and again.ref == photos[1].ref and again.sha256 == photos[1].sha256
    np.testing.assert_allclose(again.heatmap, photos[1].heatmap, atol=1e-3)  # stored as float16
    assert unfinished_session(journal.path).photos == 3  # never ended: offered for restoring


def test_the_audit_trail_lists_every_event_and_undo_is_a_new_row(journal, tmp_path):
    photos = _session(journal, 1)
    journal.add_edits(
        "s1", MODEL, [Edit(RELABEL, DO, 1, photos[1], None, "oil"), Edit(RELABEL, UNDO, 1, photos[1], "oil", None)]
    )
    journal.end_session("s1")
    assert journal.flush()
    assert export_audit_csv(journal.path, tmp_path / "audit.csv") == 2
    rows = list(csv.DictReader((tmp_path / "audit.csv").open()))
    assert [(r["cause"], r["old_label"], r["new_label"]) for r in rows] == [("do", "", "oil"), ("undo", "oil", "")]
    assert rows[0]["model_label"] == "scratch" and rows[0]["sha256"] == photos[1].sha256 and rows[0]["user"]
    assert unfinished_session(journal.path) is None  # ended on purpose


def test_clearing_drops_photo_results_but_keeps_the_audit_trail(journal):
    photos = _session(journal, 2)
    journal.add_edits("s1", MODEL, [Edit(RELABEL, DO, 1, photos[1], None, "oil")])
    assert journal.flush()
    assert clear_sessions(journal.path, ["s1"]) == 2
    session = list_sessions(journal.path)[0]
    assert (session.photos, session.edits, session.ended is not None) == (0, 1, True)


def test_bad_journal_files_are_clear_errors(tmp_path):
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    with pytest.raises(JournalError, match="damaged"):
        JournalWriter(damaged)
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(JournalError, match="newer DefectSort"):
        JournalWriter(newer)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(JournalError, match="another program"):
        JournalWriter(other)
