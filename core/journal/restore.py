"""Reading the session journal: sessions to restore, the audit trail, the inspectors' decisions.

Every function opens its own connection (WAL lets it read while the window writes) and
replays the append-only events in order: the last event of a photo wins.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.files import write_text_atomic
from core.inference.prediction import Prediction
from core.inference.records import prediction_from_record
from core.journal.session import RELABEL, REMOVE, UNREMOVE, JournalError, connect, now

AUDIT_COLUMNS = (
    "id",
    "at",
    "user",
    "session_id",
    "kind",
    "cause",
    "source",
    "sha256",
    "model_name",
    "model_version",
    "model_sha256",
    "model_label",
    "model_confidence",
    "old_label",
    "new_label",
)


@dataclass(frozen=True)
class SessionSummary:
    """One window session as the journal knows it."""

    id: str
    started: str
    user: str
    model_name: str
    model_version: str
    ended: str | None
    photos: int
    edits: int


@dataclass
class RestoredSession:
    """What a session left: its photos by gallery key, the inspector's labels and removals."""

    summary: SessionSummary
    photos: list[tuple[int, Prediction]] = field(default_factory=list)
    labels: dict[int, str | None] = field(default_factory=dict)  # key -> final label (None: the model's)
    removed: set[int] = field(default_factory=set)

    @property
    def corrections(self) -> int:
        """Return how many photos carry a label other than the model's."""
        models = {key: p.label for key, p in self.photos}
        return sum(1 for key, label in self.labels.items() if label is not None and label != models.get(key))


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    if not Path(path).is_file():
        raise JournalError(f"no journal at {path}")
    with closing(connect(Path(path))) as connection:
        try:
            yield connection
        except sqlite3.DatabaseError as error:
            raise JournalError(f"{path} cannot be read ({error})") from None


def list_sessions(path: Path) -> list[SessionSummary]:
    """Return every session, newest first."""
    with _reading(path) as connection:
        rows = connection.execute(
            "SELECT s.id, s.started, s.user, s.model_name, s.model_version, s.ended, "
            "(SELECT COUNT(*) FROM photos p WHERE p.session_id = s.id), "
            "(SELECT COUNT(*) FROM events e WHERE e.session_id = s.id) FROM sessions s ORDER BY s.started DESC"
        ).fetchall()
    return [SessionSummary(*row) for row in rows]


def unfinished_session(path: Path) -> SessionSummary | None:
    """Return the newest session that holds photos and was never ended on purpose (the window
    crashed or was killed), or None."""
    if not Path(path).is_file():
        return None
    for session in list_sessions(path):
        if session.ended is None and session.photos:
            return session
    return None


def load_session(path: Path, session_id: str) -> RestoredSession:
    """Return a session's photos, labels and removals, replayed from the journal."""
    sessions = {s.id: s for s in list_sessions(path)}
    if session_id not in sessions:
        raise JournalError(f"no session {session_id} in {path}")
    restored = RestoredSession(sessions[session_id])
    with _reading(path) as connection:
        for key, record, blob in connection.execute(
            "SELECT item_key, result, heatmap FROM photos WHERE session_id = ? ORDER BY item_key", (session_id,)
        ):
            restored.photos.append((key, prediction_from_record(json.loads(record), blob)))
        events = connection.execute(
            "SELECT item_key, kind, new_label FROM events WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()
    for key, kind, new_label in events:
        if kind == RELABEL:
            restored.labels[key] = new_label
        elif kind in (REMOVE, UNREMOVE):
            (restored.removed.add if kind == REMOVE else restored.removed.discard)(key)
    return restored


def export_audit_csv(path: Path, out: Path) -> int:
    """Write every event, oldest first, as CSV (for the team lead). :returns: the number of events."""
    with _reading(path) as connection:
        rows = connection.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM events ORDER BY id").fetchall()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(AUDIT_COLUMNS)
    writer.writerows(rows)
    write_text_atomic(Path(out), buffer.getvalue())
    return len(rows)


def clear_sessions(path: Path, session_ids: list[str]) -> int:
    """Drop the stored photo results of sessions (the bulk of the file) and end them; their
    events, the audit trail, stay. Called when the user asked, after seeing what goes.

    :returns: the number of photo results dropped
    """
    with _reading(path) as connection:
        connection.execute("BEGIN")
        dropped = 0
        for session_id in session_ids:
            dropped += connection.execute("DELETE FROM photos WHERE session_id = ?", (session_id,)).rowcount
            connection.execute("UPDATE sessions SET ended = COALESCE(ended, ?) WHERE id = ?", (now(), session_id))
        connection.execute("COMMIT")
    return dropped
