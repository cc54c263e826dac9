"""A watch: every photo that lands in the inboxes is classified once, its results kept current on disk.

The watch is ``classify --out`` that never ends. Photos settle (:mod:`core.photos.arrivals`), go through
the engine, and are appended to the output folder's run log (:mod:`core.journal.run_log`), which is also
what makes a restart safe: at start the log is read back, and what arrived while the watch was down is
classified then; what was done is not done again (same source, same bytes, same model). The results
files (``results.json``, ``results.csv``, ``phones.csv``) are written again from the log, atomically, a few
seconds after new results (less often when writing them takes long: at most a sixth of the time); sorted
copies and overlays are made as each photo comes. With a phone grouping, each phone's verdict is handed to
the courier (:mod:`core.station.deliveries`) once its quiet period passed (:mod:`core.station.phones`).
The report and the run's line in the drift history are written when the watch stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.inference.prediction import Prediction
from core.journal.run_log import JOURNAL_FILE, RunJournal
from core.model.bundle import Bundle
from core.photos.arrivals import POLL_S, SETTLE_S, Arrivals
from core.photos.reader import SourceReader
from core.photos.sources import ImageItem, iter_items
from core.results.copies import Overlays, SortedCopies
from core.results.final import final_decision
from core.results.phones import PhoneGrouping, photo_of, photo_of_item, severity_order
from core.results.pipeline import ResultsRequest, WrittenResults, model_of, result_item, write_results
from core.station.deliveries import Courier, Sink, delivered_digests
from core.station.phones import QUIET_S, OpenPhones

Classify = Callable[[Iterable[ImageItem]], Iterator[Prediction]]
CHUNK = 32  # settled files classified between two looks at the results files, the phones and Ctrl+C
REFRESH_S = 2.0


@dataclass
class WatchOptions:
    """What a watch does besides classifying.

    :param grouping: one verdict per phone (needed for ``sinks``)
    :param quiet_s: a phone is complete after this long without a new photo of it
    :param sinks: where complete phones' verdicts go
    :param sort: copy photos into ``out/<section>/``
    :param overlays: write heatmap overlays into ``out/overlays/``
    :param report: write ``report.html`` into this folder when the watch stops
    :param poll_s: how often the inboxes are listed (less often when a listing takes long: see
        :meth:`core.photos.arrivals.Arrivals.next_scan_in`)
    :param settle_s: how long a new file must stay unchanged before it is read
    :param until_idle_s: stop once nothing arrived, settled or waited for delivery this long (None: never)
    """

    grouping: PhoneGrouping | None = None
    quiet_s: float = QUIET_S
    sinks: list[Sink] = field(default_factory=list)
    sort: bool = False
    overlays: bool = False
    report: Path | None = None
    poll_s: float = POLL_S
    settle_s: float = SETTLE_S
    until_idle_s: float | None = None


@dataclass
class WatchTally:
    """What this watch did so far."""

    resumed: int = 0  # photos the output folder's log already held
    classified: int = 0
    failed: int = 0
    delivered: int = 0
    undelivered: int = 0


class Station:
    """Watches inboxes and classifies into one output folder.

    :param bundle: the model
    :param classify: classifies image items as they come (:meth:`core.inference.engine.Engine.classify`, or
        the service's queue)
    :param inboxes: the folders to watch
    :param out: the output folder
    :param options: see :class:`WatchOptions`
    :param say: told each line meant for the user (errors start with ``error:``)
    """

    def __init__(
        self,
        bundle: Bundle,
        classify: Classify,
        inboxes: list[Path],
        out: Path,
        options: WatchOptions,
        say: Callable[[str], None] = print,
    ):
        if options.sinks and options.grouping is None:
            raise ValueError("sending phone verdicts needs --group-by (which photos show the same phone)")
        self.bundle, self._classify_items = bundle, classify
        self.out, self.options, self._say = Path(out), options, say
        self.arrivals = Arrivals(inboxes, say, settle_s=options.settle_s)
        self.tally = WatchTally()
        self.stop = threading.Event()
        self._written_at, self._write_seconds, self._unwritten = 0.0, 0.0, False

    def run(self) -> WrittenResults:
        """Watch until :attr:`stop` is set (or idle for ``until_idle_s``), then write everything.

        :returns: what the last writing of the results found
        """
        self.out.mkdir(parents=True, exist_ok=True)
        with RunJournal(self.out / JOURNAL_FILE, self.bundle, resume=True, say=self._say) as journal:
            phones = self._open_phones(journal)
            courier = Courier(self.out, self.options.sinks, self._say) if self.options.sinks else None
            self.tally.resumed = journal.resumed
            try:
                self._watch(journal, phones, courier)
            finally:
                if courier is not None:
                    self.tally.undelivered = courier.close()
                    self.tally.delivered = courier.delivered
            return self._write(journal, final=True)

    def _open_phones(self, journal: RunJournal) -> OpenPhones | None:
        """Return the phones of the run log, delivered ones marked (None without a grouping)."""
        if self.options.grouping is None:
            return None
        sent = delivered_digests(self.out)
        phones = OpenPhones(self.options.grouping, severity_order(self.bundle), sent, self.options.quiet_s)
        for item in journal.items(journal.keys()):
            phones.add(photo_of_item(item))
        return phones

    def _watch(self, journal: RunJournal, phones: OpenPhones | None, courier: Courier | None) -> None:
        idle_since = time.monotonic()
        with SourceReader() as reader:
            copies, overlays = self._copiers(reader)
            while not self.stop.is_set():
                arrived = self.arrivals.scan()
                pause = self.arrivals.next_scan_in(self.options.poll_s)
                for start in range(0, len(arrived), CHUNK):  # a long catch-up still writes, delivers and stops
                    if self.stop.is_set():
                        break  # what is left is caught up after the restart
                    self._classify(arrived[start : start + CHUNK], journal, phones, copies, overlays)
                    self._keep_up(journal, phones, courier)
                self._keep_up(journal, phones, courier)
                if arrived or self.arrivals.waiting or self._unwritten or (courier is not None and courier.waiting):
                    idle_since = time.monotonic()
                elif self._idle_long_enough(idle_since):
                    return
                self.stop.wait(pause)

    def _keep_up(self, journal: RunJournal, phones: OpenPhones | None, courier: Courier | None) -> None:
        """Write the results files when due, and hand complete phones to the courier."""
        if self._unwritten and self._refresh_due():
            self._write(journal, final=False)
        if phones is not None and courier is not None:
            for complete in phones.due():
                courier.post(self._payload(complete.verdict.to_dict(), journal.run_id), complete.digest)

    def _copiers(self, reader: SourceReader) -> tuple[SortedCopies | None, Overlays | None]:
        """Return what copies each photo into its section's folder and draws its overlay, as asked."""
        on_error = self._copy_failed
        copies = SortedCopies(self.out, reader, self.bundle.classes, on_error) if self.options.sort else None
        overlays = Overlays(self.out / "overlays", reader, on_error=on_error) if self.options.overlays else None
        return copies, overlays

    def _idle_long_enough(self, idle_since: float) -> bool:
        limit = self.options.until_idle_s
        return limit is not None and time.monotonic() - idle_since >= limit

    def _classify(
        self,
        arrived: list[Path],
        journal: RunJournal,
        phones: OpenPhones | None,
        copies: SortedCopies | None,
        overlays: Overlays | None,
    ) -> None:
        """Classify the photos that settled (those the log already has with the same bytes are skipped)."""
        items = journal.seen.unseen(iter_items(arrived), on_skip=lambda _: None)
        for prediction in self._classify_items(items):
            final = final_decision(prediction)
            if not prediction.ok:
                self.tally.failed += 1
                self._say(f"error: {prediction.source}: {prediction.error}")
            if copies is not None:
                copies.add(prediction, final)
            if overlays is not None:
                overlays.add(prediction)
            journal.append(prediction, result_item(prediction, final))
            if phones is not None:
                phones.add(photo_of(prediction, final))
            self.tally.classified += 1
            self._unwritten = True

    def _refresh_due(self) -> bool:
        """Return True when the results files should be written again (every couple of seconds; when writing
        them takes long, the watch spends at most a sixth of its time on it)."""
        return time.monotonic() - self._written_at >= max(REFRESH_S, 5 * self._write_seconds)

    def _write(self, journal: RunJournal, final: bool) -> WrittenResults:
        """Write the results files from the run log (the report and the drift history too when ``final``)."""
        started = time.monotonic()
        out, grouping = self.out, self.options.grouping
        request = ResultsRequest(
            json=out / "results.json",
            csv=out / "results.csv",
            phones_csv=out / "phones.csv" if grouping else None,
            report=self.options.report if final else None,
            grouping=grouping,
            sources=[str(folder) for folder in self.arrivals.folders],
            keep_history=final,
            run_id=journal.run_id,
        )
        speed = {"new": self.tally.classified, "skipped": 0}
        written = write_results(lambda: journal.items(journal.keys()), self.bundle, request, speed)
        self._written_at, self._unwritten = time.monotonic(), False
        self._write_seconds = self._written_at - started
        return written

    def _payload(self, verdict: dict, run_id: str) -> dict:
        return {**verdict, "model": model_of(self.bundle), "run": run_id}

    def _copy_failed(self, prediction, reason: str) -> None:
        self._say(f"error: {prediction.source}: {reason}")
