"""The station: photos landing in a watched folder are classified once, results kept current, restart-safe;
each complete phone's verdict is delivered once, to a webhook or a command, whatever goes down meanwhile."""

import json
import sys
import threading
import time

import pytest

from core.inference.engine import Engine
from core.photos.sources import iter_items
from core.results.final import final_decision
from core.results.phones import PhoneGrouping
from core.results.pipeline import result_item
from core.station.deliveries import (
    DELIVERIES_FILE,
    CommandSink,
    Courier,
    DeliveryError,
    WebhookSink,
    delivered_digests,
)
from core.station.watch import Station, WatchOptions
from tests.images import encode, screen_photo, zip_bytes
from tests.verdict_receiver import VerdictReceiver

GROUP_BY = r"^(phone\d+)_"


def _options(**more) -> WatchOptions:
    base = {"poll_s": 0.05, "settle_s": 0.2, "quiet_s": 0.4, "until_idle_s": 1.5}
    return WatchOptions(**{**base, **more})


def _station(bundle, inbox, out, options: WatchOptions | None = None, say=lambda _: None) -> Station:
    return Station(bundle, Engine(bundle).classify, [inbox], out, options or _options(), say)


def _land(folder, name: str, seed: int, fmt: str = "JPEG") -> None:
    """Write a photo the way a station copies it: under a temporary name, then renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"~{name}"
    partial.write_bytes(encode(screen_photo(seed, mark=[None, "scratch", "stain", "oil"][seed % 4]), fmt))
    partial.rename(folder / name)


def _watch_in_background(station: Station) -> tuple[threading.Thread, list]:
    written: list = []
    thread = threading.Thread(target=lambda: written.append(station.run()))
    thread.start()
    return thread, written


def _items(out) -> dict[str, dict]:
    document = json.loads((out / "results.json").read_text())
    return {item["source"]: item for item in document["items"]}


@pytest.fixture
def receiver():
    server = VerdictReceiver()
    yield server
    server.shutdown()


def test_photos_are_classified_as_they_land_and_results_stay_current(tmp_path, random_bundle):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    engine = Engine(random_bundle)
    station = Station(random_bundle, engine.classify, [inbox], out, _options(until_idle_s=None), say=lambda _: None)
    thread, _ = _watch_in_background(station)
    try:
        for seed in range(3):
            _land(inbox / "bench1", f"phone{seed}_front.jpg", seed)
        deadline = time.monotonic() + 20
        while not ((out / "results.json").exists() and len(_items(out)) == 3) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_items(out)) == 3  # written while the watch goes on
        (inbox / "bench1" / "batch.zip").write_bytes(zip_bytes({"phone7_back.png": encode(screen_photo(7))}))
        while len(_items(out)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        station.stop.set()
        thread.join(30)
    items = _items(out)
    expected = [
        result_item(prediction, final_decision(prediction)) for prediction in engine.classify(iter_items([str(inbox)]))
    ]
    assert items == {item["source"]: item for item in expected}  # what classify gives on the same files
    assert station.tally.classified == 4 and (out / "results.csv").exists()


def test_a_restart_does_nothing_twice_and_catches_up_what_came_meanwhile(tmp_path, random_bundle):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for seed in range(3):
        _land(inbox, f"phone{seed}_a.jpg", seed)
    first = _station(random_bundle, inbox, out)
    first.run()
    _land(inbox, "phone9_a.jpg", 9)  # arrived while the watch was down
    (inbox / "phone0_a.jpg").touch()  # touched, same bytes
    second = _station(random_bundle, inbox, out)
    second.run()
    assert (second.tally.resumed, second.tally.classified) == (3, 1)
    journal_lines = (out / "run-journal.jsonl").read_text().splitlines()
    assert len(journal_lines) == 1 + 4 and len(_items(out)) == 4


def test_each_complete_phone_is_delivered_once_across_a_restart(tmp_path, random_bundle, receiver):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    options = _options(grouping=PhoneGrouping(GROUP_BY))
    options.sinks = [WebhookSink(receiver.url)]
    for seed, name in enumerate(["phone1_front.jpg", "phone1_back.jpg", "phone2_front.jpg"]):
        _land(inbox, name, seed)
    _station(random_bundle, inbox, out, options).run()
    assert sorted(body["phone"] for _, body in receiver.received) == ["phone1", "phone2"]
    phone1 = next(body for _, body in receiver.received if body["phone"] == "phone1")
    assert len(phone1["photos"]) == 2 and phone1["model"]["name"] == random_bundle.name

    _station(random_bundle, inbox, out, options).run()
    assert len(receiver.received) == 2  # nothing sent twice after a restart

    _land(inbox, "phone2_back.jpg", 5)  # a late photo opens phone2 again: its new verdict is sent
    _station(random_bundle, inbox, out, options).run()
    keys = [key for key, _ in receiver.received]
    assert len(keys) == 3 == len(set(keys)) and receiver.received[-1][1]["phone"] == "phone2"
    assert len(receiver.received[-1][1]["photos"]) == 2
    assert len(delivered_digests(out)) == 2


def test_a_sink_that_is_down_is_said_once_and_nothing_is_lost(tmp_path, receiver):
    said, waits = [], []

    def wait(seconds):
        waits.append(seconds)
        if len(waits) == 5:
            receiver.down = False  # back after a while
        return False

    receiver.down = True
    courier = Courier(tmp_path, [WebhookSink(receiver.url)], say=said.append, wait=wait)
    for phone in ("p1", "p2"):
        courier.post({"phone": phone, "verdict": "good"}, f"digest-{phone}")
    deadline = time.monotonic() + 10
    while courier.delivered < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert courier.close() == 0
    assert [body["phone"] for _, body in receiver.received] == ["p1", "p2"]  # in order
    assert waits[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]  # backing off
    assert len(said) == 2 and "HTTP 503" in said[0] and "takes verdicts again" in said[1]
    assert delivered_digests(tmp_path) == {"p1": "digest-p1", "p2": "digest-p2"}


def test_a_webhook_down_for_an_hour_gets_every_verdict_once_when_it_is_back(tmp_path, receiver):
    said, waits = [], []

    def wait(seconds):  # an hour passes in the retries' waits, not in the test
        waits.append(seconds)
        receiver.down = sum(waits) < 3600
        return False

    receiver.down = True
    courier = Courier(tmp_path, [WebhookSink(receiver.url)], say=said.append, wait=wait)
    for phone in ("p1", "p2", "p3"):  # the day goes on: more phones complete during the outage
        courier.post({"phone": phone, "verdict": "good"}, f"digest-{phone}")
    deadline = time.monotonic() + 20
    while courier.delivered < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert courier.close() == 0
    assert [body["phone"] for _, body in receiver.received] == ["p1", "p2", "p3"]  # each once, in order
    assert max(waits) == 60.0 and 3600 <= sum(waits) < 3660  # at most a minute between tries
    assert len(said) == 2  # the outage once, the recovery once; not one line a try
    assert delivered_digests(tmp_path) == {phone: f"digest-{phone}" for phone in ("p1", "p2", "p3")}


def test_an_undelivered_verdict_is_left_for_the_next_start(tmp_path, receiver):
    receiver.down = True
    courier = Courier(tmp_path, [WebhookSink(receiver.url)], say=lambda _: None)
    courier.post({"phone": "p1", "verdict": "oil"}, "d1")
    assert courier.close(grace_s=0.5) == 1
    assert delivered_digests(tmp_path) == {}
    (tmp_path / DELIVERIES_FILE).write_bytes(b'{"phone": "p0", "digest": "d0"}\n{"phone": "p1", "dig')  # cut
    assert delivered_digests(tmp_path) == {"p0": "d0"}


def test_a_command_gets_the_verdict_on_its_standard_input(tmp_path):
    script = tmp_path / "record.py"
    script.write_text(
        "import json, os, sys\n"
        "verdict = json.load(sys.stdin)\n"
        "open(sys.argv[1], 'a').write(os.environ['DEFECTSORT_PHONE'] + ' ' + verdict['verdict'] + '\\n')\n"
        "sys.exit(3 if verdict['verdict'] == 'refused' else 0)\n"
    )
    record = tmp_path / "record.txt"
    sink = CommandSink(f'"{sys.executable}" "{script}" "{record}"')
    sink.send({"phone": "p7", "verdict": "scratch"}, "p7#1")
    assert record.read_text() == "p7 scratch\n"
    with pytest.raises(DeliveryError, match="exit code 3"):
        sink.send({"phone": "p8", "verdict": "refused"}, "p8#1")


def test_a_photo_deleted_before_it_is_read_is_one_error_line(tmp_path, random_bundle, monkeypatch):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    _land(inbox, "phone1_a.jpg", 1)
    said = []
    station = _station(random_bundle, inbox, out, say=said.append)
    real_scan = station.arrivals.scan

    def scan_then_delete():
        arrived = real_scan()
        for path in arrived:
            path.unlink()
        return arrived

    monkeypatch.setattr(station.arrivals, "scan", scan_then_delete)
    station.run()
    errors = [line for line in said if line.startswith("error:")]
    assert len(errors) == 1 and "phone1_a.jpg" in errors[0] and "\n" not in errors[0]
    assert station.tally.failed == 1


def test_sending_verdicts_needs_a_phone_grouping(tmp_path, random_bundle):
    with pytest.raises(ValueError, match="group-by"):
        _station(random_bundle, tmp_path, tmp_path / "out", _options(sinks=[CommandSink("true")]))


def test_a_long_catch_up_stops_at_ctrl_c_and_the_restart_finishes_it(tmp_path, random_bundle, monkeypatch):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for seed in range(5):
        _land(inbox, f"phone{seed}_a.jpg", seed)
    monkeypatch.setattr("core.station.watch.CHUNK", 2)
    engine, stop = Engine(random_bundle), threading.Event()

    def classify_then_stop(items):
        yield from engine.classify(items)
        stop.set()  # Ctrl+C during the first chunk

    station = Station(random_bundle, classify_then_stop, [inbox], out, _options(), lambda _: None)
    station.stop = stop
    station.run()
    assert station.tally.classified == 2 and len(_items(out)) == 2  # the results of what was done are written
    again = _station(random_bundle, inbox, out)
    again.run()
    assert (again.tally.resumed, again.tally.classified) == (2, 3) and len(_items(out)) == 5


def test_a_phone_named_by_a_non_ascii_folder_is_delivered(tmp_path, receiver):
    courier = Courier(tmp_path, [WebhookSink(receiver.url)], say=lambda _: None)
    courier.post({"phone": "D:/Возвраты/7", "verdict": "good"}, "d7")  # not even Latin-1, as headers are
    assert courier.close() == 0
    key, body = receiver.received[0]
    assert body["phone"] == "D:/Возвраты/7" and key == "D:/%D0%92%D0%BE%D0%B7%D0%B2%D1%80%D0%B0%D1%82%D1%8B/7#d7"
