"""The session journal: every classified photo and every inspector decision, kept as it happens.

One SQLite file in the user data folder, in WAL mode. ``sessions`` has one row per window
session (who, which model, when it ended); ``photos`` the result of each classified photo
(the classify JSON, its SHA-256, where to read it again, its small heatmap); ``events`` the
audit trail: every move, removal, undo and redo with when, who, the photo and its model
label, old -> new. Events are only ever added (an undo is a new event); a session gets its
end time once, and clearing old sessions drops their photo results but keeps their events.
The schema version is ``PRAGMA user_version``: a journal from a newer DefectSort is refused.

Writes go through :class:`JournalWriter`, a thread fed by a queue, so no caller waits for
the disk; reads (:mod:`core.journal.restore`) open their own connection.
"""

from __future__ import annotations

import functools
import getpass
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.inference.prediction import Prediction
from core.inference.records import heatmap_blob, photo_record
from core.paths import user_data_dir

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, started TEXT NOT NULL, user TEXT NOT NULL, model_name TEXT NOT NULL,
                       model_version TEXT NOT NULL, model_sha256 TEXT NOT NULL, ended TEXT);
CREATE TABLE photos (session_id TEXT NOT NULL REFERENCES sessions(id), item_key INTEGER NOT NULL, added TEXT NOT NULL,
                     source TEXT NOT NULL, sha256 TEXT, result TEXT NOT NULL, heatmap BLOB,
                     PRIMARY KEY (session_id, item_key));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id),
                     at TEXT NOT NULL, user TEXT NOT NULL, kind TEXT NOT NULL, cause TEXT NOT NULL,
                     item_key INTEGER NOT NULL, source TEXT NOT NULL, sha256 TEXT, model_name TEXT, model_version TEXT,
                     model_sha256 TEXT, model_label TEXT, model_confidence REAL, old_label TEXT, new_label TEXT);
CREATE INDEX events_by_session ON events (session_id, id);
"""
RELABEL, REMOVE, UNREMOVE = "relabel", "remove", "unremove"  # event kinds
DO, UNDO, REDO = "do", "undo", "redo"  # what the inspector did to cause it


class JournalError(Exception):
    """A journal that cannot be used; the message is one line meant for the user."""


def journal_path() -> Path:
    """Return the journal file in the user data folder."""
    return user_data_dir() / "journal.sqlite3"


def now() -> str:
    """Return the current time as ISO 8601 with the UTC offset."""
    return datetime.now(UTC).astimezone().isoformat(timespec="milliseconds")


def user_name() -> str:
    """Return the operating-system user name (for the audit trail)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating or migrating) a journal.

    :raises JournalError: a damaged file, another kind of database, or a newer schema
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as error:
        raise JournalError(f"{path} is damaged or not a DefectSort journal ({error})") from None
    if version > SCHEMA_VERSION:
        raise JournalError(f"{path} was written by a newer DefectSort (journal version {version}); update DefectSort")
    if version == 0 and tables:
        raise JournalError(f"{path} is another program's database, not a DefectSort journal")
    if version == 0:
        connection.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    return connection


@dataclass(frozen=True)
class Edit:
    """One change the inspector made to one photo (a row of ``events``)."""

    kind: str  # RELABEL, REMOVE or UNREMOVE
    cause: str  # DO, UNDO or REDO
    key: int
    prediction: Prediction
    old_label: str | None = None  # None: the model's label
    new_label: str | None = None


def _photo_row(session_id: str, key: int, added: str, prediction: Prediction) -> tuple[object, ...]:
    return (
        session_id,
        key,
        added,
        prediction.source,
        prediction.sha256,
        photo_record(prediction),
        heatmap_blob(prediction.heatmap),
    )


class JournalWriter:
    """Appends to the journal on a thread of its own; callers never wait for the disk.

    :param path: the journal file (created if needed)
    :raises JournalError: when it cannot be opened
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._connection = connect(self.path)
        # (sql, values) or (sql, a function making the values on this thread); None stops the thread
        self._queue: queue.Queue[tuple[str, tuple[object, ...] | Callable[[], tuple[object, ...]]] | None] = (
            queue.Queue()
        )
        self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
        self._thread.start()
        self.user = user_name()
        self.failed: str | None = None  # the first write error, for the user

    def begin_session(self, session_id: str, model_name: str, model_version: str, model_sha256: str) -> None:
        """Start a session (a window's results with one model)."""
        self._put(
            "INSERT INTO sessions (id, started, user, model_name, model_version, model_sha256) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (session_id, now(), self.user, model_name, model_version, model_sha256),
        )

    def add_photos(self, session_id: str, photos: list[tuple[int, Prediction]]) -> None:
        """Record classified photos by their gallery key (serialised on the writer thread, not the caller's)."""
        added = now()
        for key, prediction in photos:
            row = functools.partial(_photo_row, session_id, key, added, prediction)
            self._queue.put(("INSERT OR REPLACE INTO photos VALUES (?, ?, ?, ?, ?, ?, ?)", row))

    def add_edits(self, session_id: str, model: tuple[str, str, str], edits: list[Edit]) -> None:
        """Record the inspector's edits (one event each) under ``model`` = (name, version, sha256)."""
        for edit in edits:
            p = edit.prediction
            self._put(
                "INSERT INTO events (session_id, at, user, kind, cause, item_key, source, sha256, model_name, "
                "model_version, model_sha256, model_label, model_confidence, old_label, new_label) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    now(),
                    self.user,
                    edit.kind,
                    edit.cause,
                    edit.key,
                    p.source,
                    p.sha256,
                    *model,
                    p.label,
                    p.confidence,
                    edit.old_label,
                    edit.new_label,
                ),
            )

    def end_session(self, session_id: str) -> None:
        """Mark a session as ended on purpose (exported, cleared or closed): it is not offered for restoring."""
        self._put("UPDATE sessions SET ended = ? WHERE id = ? AND ended IS NULL", (now(), session_id))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued is on disk. :returns: False when that took longer than ``timeout``."""
        done = threading.Event()
        self._queue.put(("__flush__", (done,)))
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, then stop the thread and close the file."""
        self._queue.put(None)
        self._thread.join(10)
        self._connection.close()

    def _put(self, sql: str, values: tuple[object, ...]) -> None:
        self._queue.put((sql, values))

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            sql, values = job
            if sql == "__flush__" and isinstance(values, tuple):
                flushed = values[0]
                assert isinstance(flushed, threading.Event)
                flushed.set()
                continue
            try:
                if callable(values):
                    values = values()
                self._connection.execute(sql, values)  # autocommit: each row is on disk once written
            except sqlite3.Error as error:
                log.error("journal write failed: %s", error)
                self.failed = self.failed or f"The session journal could not be written ({error})."
