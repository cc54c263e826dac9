"""Long jobs kept on disk under ``--jobs-dir``, so they survive a restart of the service.

Each job has a folder ``jobs/<id>/``: ``job.json`` (state, counts), the uploaded
``input.zip`` when there was one, the run log ``run-journal.jsonl`` (one line per classified
photo, appended as they come; :mod:`core.journal.run_log`) and, once done, the CLI's
``results.json`` and ``results.csv``, written by the one results pipeline. A restarted service
finishes an interrupted job by the run log's rule: a photo with the same source and bytes,
classified by the same model, is not classified again.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from core.files import write_text_atomic
from core.journal.run_log import JOURNAL_FILE, RunJournal
from core.model.bundle import Bundle
from core.results.pipeline import ResultsRequest, write_results

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
UNFINISHED = (QUEUED, RUNNING)
_ID = re.compile(r"^[0-9a-f]{32}$")
INPUT_ZIP = "input.zip"
log = logging.getLogger(__name__)


class JobStore:
    """The jobs folder; thread-safe.

    :param root: the service's ``--jobs-dir``
    :param keep_days: ended jobs older than this are deleted with their files (None: kept)
    """

    def __init__(self, root: Path, keep_days: float | None = None):
        self.root = Path(root) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.keep_days = keep_days
        self._prune_now()

    def create(self, source: str | None) -> tuple[str, Path]:
        """Make a queued job. :param source: a folder/ZIP path, or None for an upload that the caller
        moves to ``folder / INPUT_ZIP``. :returns: its id and its folder."""
        self._prune_now()
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir()
        created = datetime.now(UTC).isoformat(timespec="seconds")
        self._write(job_id, {"id": job_id, "status": QUEUED, "created": created, "path": source, "done": 0, "total": 0})
        return job_id, folder

    def get(self, job_id: str) -> dict | None:
        """Return the job's state, or None for an unknown (or malformed) id."""
        if not _ID.match(job_id):
            return None
        try:
            state = json.loads((self.root / job_id / "job.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) and "status" in state else None

    def update(self, job_id: str, **fields) -> dict:
        """Change some of a job's fields. :returns: the new state (empty: the job was removed meanwhile)."""
        with self._lock:
            current = self.get(job_id)
            if current is None:
                return {}
            state = {**current, **fields}
            self._write(job_id, state)
        return state

    def source_of(self, job_id: str) -> Path:
        """Return what the job classifies: its folder/ZIP path, or its uploaded archive."""
        state = self.get(job_id) or {}
        return Path(state["path"]) if state.get("path") else self.root / job_id / INPUT_ZIP

    def unfinished(self) -> list[str]:
        """Return ids of queued or interrupted jobs, oldest first."""
        states = [self.get(folder.name) for folder in self.root.iterdir() if folder.is_dir()]
        return [s["id"] for s in sorted(filter(None, states), key=lambda s: s["created"]) if s["status"] in UNFINISHED]

    def journal(self, job_id: str, bundle: Bundle) -> RunJournal:
        """Return the job's run log, resumed: what the same model already did for it is skipped."""
        return RunJournal(self.root / job_id / JOURNAL_FILE, bundle, resume=True, say=log.info)

    def finish(self, job_id: str, journal: RunJournal, bundle: Bundle) -> None:
        """Write ``results.json`` and ``results.csv`` as ``defectsort classify`` does, and mark the job done."""
        folder = self.root / job_id
        request = ResultsRequest(json=folder / "results.json", csv=folder / "results.csv", run_id=journal.run_id)
        written = write_results(lambda: journal.items(journal.order), bundle, request)
        total = written.stats.total
        self.update(job_id, status=DONE, done=total, total=total)

    def drop_input(self, job_id: str) -> None:
        """Delete a job's uploaded archive (a cancelled job needs it no more; its results so far stay)."""
        (self.root / job_id / INPUT_ZIP).unlink(missing_ok=True)

    def remove(self, job_id: str) -> None:
        """Delete a job and every file of it."""
        with self._lock:
            shutil.rmtree(self.root / job_id, ignore_errors=True)

    def prune(self, keep_days: float, now: float | None = None) -> int:
        """Delete the jobs that ended more than ``keep_days`` ago (by their state file's last change).

        :returns: how many were deleted
        """
        cutoff = (now if now is not None else time.time()) - keep_days * 86400
        removed = 0
        for folder in list(self.root.iterdir()):
            state = self.get(folder.name) if folder.is_dir() else None
            if state is None or state["status"] in UNFINISHED:
                continue
            if (folder / "job.json").stat().st_mtime < cutoff:
                self.remove(folder.name)
                removed += 1
        return removed

    def _prune_now(self) -> None:
        """Apply the retention (at start and with every new job), when one is set."""
        if self.keep_days is not None and (removed := self.prune(self.keep_days)):
            log.info("removed %d ended job(s) older than %g days", removed, self.keep_days)

    def results_file(self, job_id: str, kind: str) -> Path | None:
        """Return ``results.json`` or ``results.csv`` of a finished job, else None."""
        path = self.root / job_id / f"results.{kind}"
        return path if kind in ("json", "csv") and path.exists() else None

    def _write(self, job_id: str, state: dict) -> None:
        write_text_atomic(self.root / job_id / "job.json", json.dumps(state, indent=1))
