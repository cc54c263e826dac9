"""What the service's routes share, kept on the Flask app (``app.extensions["defectsort"]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from core.model.bundle import Bundle
from core.service.inference import InferenceQueue
from core.service.job_runner import JobRunner
from core.service.jobs import JobStore
from core.service.watch import ServiceWatch


@dataclass
class Service:
    """What the routes share: the model, its queue, the jobs and the allowed folders.

    :param allow_roots: folders a ``{"path": ...}`` job may name (resolved); none: no path jobs
    :param watch: the station watch of ``serve --watch``, if any
    """

    bundle: Bundle
    inference: InferenceQueue
    store: JobStore
    runner: JobRunner
    allow_roots: list[Path] = field(default_factory=list)
    watch: ServiceWatch | None = None

    def close(self) -> None:
        """Stop the watch and the jobs (an interrupted one resumes at the next start), then the engine's queue."""
        if self.watch is not None:
            self.watch.close()
        self.runner.close()
        self.inference.close()


def service() -> Service:
    """Return the :class:`Service` of the app handling the current request."""
    state: Service = current_app.extensions["defectsort"]
    return state
