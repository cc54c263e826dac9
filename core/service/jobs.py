"""Long jobs kept on disk under ``--jobs-dir``, so they survive a restart of the service.

Each job has a folder ``jobs/<id>/``: ``job.json`` (state, counts), the uploaded
``input.zip`` when there was one, ``results.jsonl`` (one line per classified photo,
appended as they come) and, once done, the CLI's ``results.json`` and ``results.csv``.
A restarted service reads ``results.jsonl`` to finish an interrupted job without
classifying again what was done (a line cut short by a crash is simply redone).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from core.bundle import Bundle
from core.export import summary_of_items
from core.files import write_text_atomic
from core.result_files import write_csv, write_json

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
UNFINISHED = (QUEUED, RUNNING)
_ID = re.compile(r"^[0-9a-f]{32}$")
INPUT_ZIP = "input.zip"


class JobStore:
    """The jobs folder; thread-safe.

    :param root: the service's ``--jobs-dir``
    """

    def __init__(self, root: Path):
        self.root = Path(root) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def create(self, source: str | None) -> tuple[str, Path]:
        """Make a queued job. :param source: a folder/ZIP path, or None for an upload that the caller
        moves to ``folder / INPUT_ZIP``. :returns: its id and its folder."""
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir()
        created = datetime.now(UTC).isoformat(timespec="seconds")
        self._write(job_id, {"id": job_id, "status": QUEUED, "created": created, "path": source, "done": 0, "total": 0})
        return job_id, folder

    def get(self, job_id: str) -> dict | None:
        """:returns: the job's state, or None for an unknown (or malformed) id."""
        if not _ID.match(job_id):
            return None
        try:
            state: dict = json.loads((self.root / job_id / "job.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state

    def update(self, job_id: str, **fields) -> dict:
        """Change some of a job's fields. :returns: the new state."""
        with self._lock:
            state = {**(self.get(job_id) or {}), **fields}
            self._write(job_id, state)
        return state

    def source_of(self, job_id: str) -> Path:
        """:returns: what the job classifies: its folder/ZIP path, or its uploaded archive."""
        state = self.get(job_id) or {}
        return Path(state["path"]) if state.get("path") else self.root / job_id / INPUT_ZIP

    def unfinished(self) -> list[str]:
        """:returns: ids of queued or interrupted jobs, oldest first."""
        states = [self.get(folder.name) for folder in self.root.iterdir() if folder.is_dir()]
        return [s["id"] for s in sorted(filter(None, states), key=lambda s: s["created"]) if s["status"] in UNFINISHED]

    def append_results(self, job_id: str, items: list[dict]) -> None:
        """Add classified photos to the job's results (flushed: a crash loses at most a cut line)."""
        with open(self.root / job_id / "results.jsonl", "a", encoding="utf-8") as stream:
            stream.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in items)

    def results(self, job_id: str) -> list[dict]:
        """:returns: the photos classified so far (a line cut short by a crash is left out)."""
        path = self.root / job_id / "results.jsonl"
        items = []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    items.append(json.loads(line))
                except ValueError:
                    continue
        return items

    def keep_whole_results(self, job_id: str) -> list[dict]:
        """Rewrite ``results.jsonl`` without a line cut short by a crash, so that new lines start on
        their own line (called when a job starts or resumes). :returns: the results kept."""
        items = self.results(job_id)
        if items or (self.root / job_id / "results.jsonl").exists():
            lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
            write_text_atomic(self.root / job_id / "results.jsonl", lines)
        return items

    def finish(self, job_id: str, bundle: Bundle) -> None:
        """Write ``results.json`` and ``results.csv`` as ``defectsort classify`` does, and mark the job done."""
        items = self.results(job_id)
        document = {
            "model": {"name": bundle.name, "version": bundle.version, "sha256": bundle.sha256},
            "summary": summary_of_items(items),
            "items": items,
        }
        folder = self.root / job_id
        write_json(folder / "results.json", document)
        write_csv(folder / "results.csv", document, bundle.classes)
        self.update(job_id, status=DONE, done=len(items), total=len(items))

    def results_file(self, job_id: str, kind: str) -> Path | None:
        """:returns: ``results.json`` or ``results.csv`` of a finished job, else None."""
        path = self.root / job_id / f"results.{kind}"
        return path if kind in ("json", "csv") and path.exists() else None

    def _write(self, job_id: str, state: dict) -> None:
        write_text_atomic(self.root / job_id / "job.json", json.dumps(state, indent=1))
