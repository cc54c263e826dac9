"""Sending each complete phone's verdict to another system, once, whatever goes down meanwhile.

A :class:`Courier` thread takes verdicts in the order phones completed and hands each to a sink: an HTTP
endpoint (:class:`WebhookSink`: a JSON ``POST``, any 2xx is a delivery) or a local command
(:class:`CommandSink`: the JSON on its standard input, exit code 0 is a delivery). A failed delivery is
tried again after 1, 2, 4... seconds, at most a minute apart, for as long as it takes; the first failure and
the recovery are each said in one line. The sink that is down holds the queue: verdicts arrive in order.

Each delivery is written to ``deliveries.jsonl`` in the output folder (flushed and synced) before the next
one starts, and the watch reads it back at start: a verdict delivered before a restart is not sent again,
one that was not is sent after it. The only duplicate possible is a verdict the receiver accepted in the
instant before the process died, before its line was written; each request carries an ``Idempotency-Key``
(the phone and the digest of its photos) so that a receiver can drop it.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import shlex
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

DELIVERIES_FILE = "deliveries.jsonl"
FIRST_RETRY_S = 1.0
LONGEST_RETRY_S = 60.0
SEND_TIMEOUT_S = 30.0


class DeliveryError(Exception):
    """A delivery that did not go through; the message is one line."""


class Sink(Protocol):
    """Where verdicts go."""

    name: str

    def send(self, payload: dict, key: str) -> None:
        """Deliver ``payload`` or raise :class:`DeliveryError`; ``key`` names this version of this phone."""


class WebhookSink:
    """POSTs each verdict as JSON to ``url``."""

    def __init__(self, url: str):
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"--on-phone needs an http:// or https:// address, not {url!r}")
        self.url = url
        self.name = url

    def send(self, payload: dict, key: str) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json", "Idempotency-Key": urllib.parse.quote(key, safe="#/:")},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as answer:
                answer.read()
        except urllib.error.HTTPError as error:
            raise DeliveryError(f"HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            raise DeliveryError(str(getattr(error, "reason", error)) or type(error).__name__) from error


class CommandSink:
    """Runs a local command per verdict, the JSON on its standard input (``DEFECTSORT_PHONE`` and
    ``DEFECTSORT_VERDICT`` in its environment)."""

    def __init__(self, command: str):
        self.argv = shlex.split(command, posix=os.name != "nt")
        if not self.argv:
            raise ValueError("--on-phone-cmd needs a command")
        self.name = command

    def send(self, payload: dict, key: str) -> None:
        env = {**os.environ, "DEFECTSORT_PHONE": payload["phone"], "DEFECTSORT_VERDICT": payload["verdict"]}
        try:
            finished = subprocess.run(
                self.argv,
                input=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                env=env,
                capture_output=True,
                timeout=SEND_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DeliveryError(str(error)) from error
        if finished.returncode != 0:
            said = finished.stderr.decode("utf-8", "replace").strip().splitlines()
            raise DeliveryError(f"exit code {finished.returncode}" + (f": {said[-1]}" if said else ""))


def delivered_digests(folder: Path) -> dict[str, str]:
    """Return phone -> the digest of its last delivered verdict, read from ``folder``'s delivery journal."""
    path = Path(folder) / DELIVERIES_FILE
    digests: dict[str, str] = {}
    if not path.exists():
        return digests
    with open(path, "rb") as stream:
        for line in stream:
            try:
                record = json.loads(line)
                digests[record["phone"]] = record["digest"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash: that verdict is sent again
    return digests


class Courier:
    """Delivers verdicts in order on its own thread, to every sink, journalling each delivery.

    :param folder: the output folder (holds :data:`DELIVERIES_FILE`)
    :param sinks: where each verdict goes (all of them: a verdict is delivered when every sink took it)
    :param say: told in one line when a sink fails and when it is back
    :param wait: sleeps between tries (tests pass one that returns at once); returns True to stop
    """

    def __init__(
        self,
        folder: Path,
        sinks: list[Sink],
        say: Callable[[str], None] = print,
        wait: Callable[[float], bool] | None = None,
    ):
        self.sinks = sinks
        self.posted = self.delivered = 0
        self._say = say
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._queue: queue.Queue[tuple[dict, str] | None] = queue.Queue()
        self._journal = open(Path(folder) / DELIVERIES_FILE, "ab")  # noqa: SIM115 - closed by close()
        self._thread = threading.Thread(target=self._run, name="courier", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Return how many verdicts are not delivered yet."""
        return self.posted - self.delivered

    def post(self, payload: dict, digest: str) -> None:
        """Queue one phone's verdict (``payload["phone"]`` names it)."""
        self.posted += 1
        self._queue.put((payload, digest))

    def close(self, grace_s: float = 5.0) -> int:
        """Deliver what can be delivered within ``grace_s``, then stop (the rest goes after a restart).

        :returns: how many verdicts were left undelivered
        """
        self._queue.put(None)
        self._thread.join(grace_s)
        self._stop.set()
        self._thread.join()
        self._journal.close()
        return self.waiting

    def _run(self) -> None:
        while not self._stop.is_set():
            entry = self._queue.get()
            if entry is None:
                return
            payload, digest = entry
            if not self._deliver(payload, f"{payload['phone']}#{digest}"):
                return  # stopped before it went through: sent after the restart
            line = {"phone": payload["phone"], "digest": digest, "verdict": payload["verdict"]}
            line["delivered"] = datetime.now().isoformat(timespec="seconds")
            self._journal.write(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
            self._journal.flush()
            os.fsync(self._journal.fileno())
            self.delivered += 1

    def _deliver(self, payload: dict, key: str) -> bool:
        """Hand ``payload`` to every sink, trying again until each took it. :returns: False when stopped first."""
        for sink in self.sinks:
            delay, failing = FIRST_RETRY_S, False
            while True:
                try:
                    sink.send(payload, key)
                    break
                except DeliveryError as error:
                    if not failing:
                        phone = payload["phone"]
                        self._say(f"error: cannot deliver phone {phone} to {sink.name}: {error}; trying again")
                    failing = True
                if self._wait(delay) or self._stop.is_set():
                    return False
                delay = min(delay * 2, LONGEST_RETRY_S)
            if failing:
                self._say(f"note: {sink.name} takes verdicts again")
        return True
