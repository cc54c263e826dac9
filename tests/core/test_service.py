"""The REST service through Flask's test client: contract, bad input, tokens, jobs that survive a restart."""

import base64
import io
import json
import struct
import threading
import time

import pytest
from PIL import Image

from core.inference.engine import Engine
from core.photos.sources import OUTSIDE, collect_items
from core.results.pipeline import result_item
from core.service.app import create_app
from core.service.inference import InferenceQueue, QueueFullError
from core.service.job_runner import JobRunner
from core.service.jobs import JobStore
from core.service.state import Service
from tests.images import encode, screen_photo, zip_bytes

TOKEN = "s3cret-token"


def _photo(seed: int) -> bytes:
    return encode(screen_photo(seed, mark=[None, "scratch", "stain", "oil"][seed % 4]), "JPEG")


@pytest.fixture(scope="module")
def engine(random_bundle):
    return Engine(random_bundle)


def _service(engine, jobs_dir, allow_roots=(), capacity=32):
    inference = InferenceQueue(engine, capacity=capacity)
    store = JobStore(jobs_dir)
    return Service(engine.bundle, inference, store, JobRunner(store, inference, engine.bundle), list(allow_roots))


@pytest.fixture
def served(engine, tmp_path):
    """Return (test client, service, jobs folder) with a token and a 1 MB upload limit."""
    state = _service(engine, tmp_path / "jobs", allow_roots=[tmp_path / "shared"])
    app = create_app(state, tmp_path / "jobs", token=TOKEN, max_upload_mb=1)
    yield app.test_client(), state, tmp_path / "jobs"
    state.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _upload(data: bytes, name: str):
    return {"file": (io.BytesIO(data), name)}


def test_health_is_open_and_everything_else_needs_the_token(served, random_bundle):
    client, _, _ = served
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json == {
        "status": "ok",
        "model": {
            "name": random_bundle.name,
            "version": random_bundle.version,
            "sha256": random_bundle.sha256,
            "runtime": "torch fp32",  # the engine this test serves with
        },
    }
    assert client.post("/predict", data=_photo(1)).status_code == 401
    wrong = client.post("/predict", data=_photo(1), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and set(wrong.json) == {"error"} and wrong.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/").status_code == 200 and b"DefectSort" in client.get("/").data  # the page asks for it


def test_predict_returns_the_classify_item_for_multipart_and_raw_bodies(served, engine, tmp_path):
    client, _, _ = served
    photo = _photo(2)
    (tmp_path / "p.jpg").write_bytes(photo)
    expected = next(iter(engine.classify(collect_items([tmp_path / "p.jpg"]))))
    multipart = client.post("/predict?overlay=1", data=_upload(photo, "phone 7.jpg"), headers=AUTH)
    raw = client.post("/predict", data=photo, headers={**AUTH, "Content-Type": "image/jpeg"})
    assert multipart.status_code == raw.status_code == 200
    item = multipart.json
    assert item["name"] == item["source"] == "phone 7.jpg"
    assert item["label"] == expected.label and item["probabilities"] == pytest.approx(expected.probabilities)
    assert {"label", "confidence", "probabilities", "status", "peak", "box", "explanation"} <= set(item)
    assert Image.open(io.BytesIO(base64.b64decode(item["overlay_png"]))).format == "PNG"
    assert raw.json["label"] == expected.label and "overlay_png" not in raw.json


def test_bad_photos_get_the_classify_reason_and_nothing_is_left_on_disk(served):
    client, _, jobs_dir = served
    junk = client.post("/predict", data=_upload(b"hello, not a photo", "notes.jpg"), headers=AUTH)
    assert junk.status_code == 422
    assert junk.json == {"error": "not a photo DefectSort can open: save it as JPEG, PNG, BMP, TIFF or WebP"}
    assert client.post("/predict", data=b"", headers=AUTH).status_code == 400
    big = client.post("/predict", data=b"x" * (2 * 1024 * 1024), headers=AUTH)
    assert big.status_code == 413 and set(big.json) == {"error"}
    assert list((jobs_dir / "spool").iterdir()) == []  # uploads are spooled there and always removed


def test_predict_batch_maps_member_names_to_labels(served):
    client, _, _ = served
    locked = bytearray(zip_bytes({"locked.jpg": _photo(3)}))
    archive = zip_bytes(
        {"1.jpg": _photo(1), "day2/2.jpg": _photo(2), "broken.jpg": b"nope", "inner.zip": bytes(locked)}
    )
    answer = client.post("/predict_batch", data=_upload(archive, "batch.zip"), headers=AUTH)
    assert answer.status_code == 200
    labels = answer.json
    assert set(labels) == {"1.jpg", "day2/2.jpg", "broken.jpg", "inner.zip!/locked.jpg"}
    assert labels["broken.jpg"] == "error" and labels["1.jpg"] in ("good", "oil", "scratch", "stain")
    detail = client.post("/predict_batch?detail=1", data=archive, headers=AUTH).json
    assert detail["summary"]["total"] == 4 and {i["source"] for i in detail["items"]} == set(labels)
    not_zip = client.post("/predict_batch", data=_upload(_photo(1), "x.zip"), headers=AUTH)
    assert not_zip.status_code == 422 and "not a ZIP" in not_zip.json["error"]


def test_encrypted_members_are_an_error_each(served):
    client, _, _ = served
    data = bytearray(zip_bytes({"secret.jpg": _photo(1)}))
    data[6:8] = struct.pack("<H", 0x1)
    central = data.rfind(b"PK\x01\x02")
    data[central + 8 : central + 10] = struct.pack("<H", 0x1)
    assert client.post("/predict_batch", data=bytes(data), headers=AUTH).json == {"secret.jpg": "error"}


def test_concurrent_clients_get_their_own_results(served):
    client, _, _ = served
    photos = {f"p{seed}.jpg": _photo(seed) for seed in range(12)}
    answers, errors = {}, []

    def ask(name):
        try:
            answers[name] = client.post("/predict", data=_upload(photos[name], name), headers=AUTH).json
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(name,)) for name in photos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and all(answers[name]["name"] == name for name in photos)


class _HeldEngine:
    """An engine that waits for a signal before classifying (to fill the queue)."""

    def __init__(self, engine):
        self.engine, self.release = engine, threading.Event()

    def classify(self, items):
        self.release.wait(10)
        return self.engine.classify(items)


def test_a_full_queue_answers_503_with_retry_after(engine, tmp_path):
    held = _HeldEngine(engine)
    inference = InferenceQueue(held, capacity=1)
    first = inference.submit([])  # taken by the engine thread, which then waits
    time.sleep(0.2)
    second = inference.submit([])  # waits in the queue
    with pytest.raises(QueueFullError):
        inference.submit([])
    store = JobStore(tmp_path)
    state = Service(engine.bundle, inference, store, JobRunner(store, inference, engine.bundle))
    busy = create_app(state, tmp_path).test_client().post("/predict", data=_photo(1))
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "2" and "busy" in busy.json["error"]
    held.release.set()
    assert first.result(10) == [] and second.result(10) == []
    state.close()


def _wait_for(client, job_id, status="done"):
    for _ in range(300):
        state = client.get(f"/jobs/{job_id}", headers=AUTH).json
        if state["status"] == status:
            return state
        time.sleep(0.05)
    raise AssertionError(state)


def test_jobs_from_an_upload_and_from_an_allowed_folder(served, tmp_path):
    client, _, jobs_dir = served
    archive = zip_bytes({f"day1/{i}.jpg": _photo(i) for i in range(10)} | {"day1/broken.jpg": b"x"})
    created = client.post("/jobs", data=_upload(archive, "night.zip"), headers=AUTH)
    assert created.status_code == 202 and created.json["status_url"] == f"/jobs/{created.json['id']}"
    state = _wait_for(client, created.json["id"])
    assert state["done"] == state["total"] == 11
    document = json.loads(client.get(f"/jobs/{created.json['id']}/results.json", headers=AUTH).data)
    assert {i["source"] for i in document["items"]} == {f"day1/{i}.jpg" for i in range(10)} | {"day1/broken.jpg"}
    assert document["summary"]["errors"] == 1
    csv = client.get(f"/jobs/{created.json['id']}/results.csv", headers=AUTH).data.decode()
    assert csv.splitlines()[0].startswith("source,") and len(csv.splitlines()) == 12
    removed = client.delete(f"/jobs/{created.json['id']}", headers=AUTH)  # an ended job: removed with its files
    assert removed.status_code == 200 and removed.json["status"] == "removed"
    assert client.get(f"/jobs/{created.json['id']}", headers=AUTH).status_code == 404
    assert not (jobs_dir / "jobs" / created.json["id"]).exists()
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "a.jpg").write_bytes(_photo(5))
    by_path = client.post("/jobs", json={"path": str(shared)}, headers=AUTH)
    assert _wait_for(client, by_path.json["id"])["total"] == 1
    outside = client.post("/jobs", json={"path": str(tmp_path / "shared" / ".." / "jobs")}, headers=AUTH)
    assert outside.status_code == 403
    assert client.get("/jobs/" + "0" * 32, headers=AUTH).status_code == 404
    assert client.get("/jobs/../../etc", headers=AUTH).status_code == 404
    written = {p.relative_to(jobs_dir).parts[0] for p in jobs_dir.rglob("*")}
    assert written <= {"jobs", "spool"}


class _CountingEngine:
    def __init__(self, engine):
        self.engine, self.classified = engine, []

    def classify(self, items):
        items = list(items)
        self.classified += [item.source for item in items]
        return self.engine.classify(items)


def test_an_interrupted_job_is_finished_after_a_restart_without_redoing_its_photos(engine, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(20):
        (folder / f"{i:02d}.jpg").write_bytes(_photo(i))
    store = JobStore(tmp_path / "jobs")
    job_id, _ = store.create(str(folder))
    first = InferenceQueue(engine)
    early = first.classify(collect_items([folder])[:8])
    with store.journal(job_id, engine.bundle) as journal:  # the first process, with the one run log
        for prediction in early:
            journal.append(prediction, result_item(prediction))
    with open(journal.path, "a") as stream:
        stream.write('{"key": "cut short by the crash')  # the line being written when the process died
    store.update(job_id, status="running", done=8, total=20)
    first.close()
    counting = _CountingEngine(engine)  # the restarted service
    inference = InferenceQueue(counting)
    runner = JobRunner(store, inference, engine.bundle)
    for _ in range(300):
        if store.get(job_id)["status"] == "done":
            break
        time.sleep(0.05)
    runner.close()
    inference.close()
    assert len(counting.classified) == 12 and not set(counting.classified) & {p.source for p in early}
    document = json.loads(store.results_file(job_id, "json").read_text())
    assert sorted(i["name"] for i in document["items"]) == [f"{i:02d}.jpg" for i in range(20)]


def test_cancelling_a_queued_job(served):
    client, state, _ = served
    job_id, _ = state.store.create(None)  # queued, not yet given to the runner
    assert client.post(f"/jobs/{job_id}/cancel", headers=AUTH).json["status"] == "cancelled"
    assert client.get(f"/jobs/{job_id}/results.json", headers=AUTH).status_code == 409
    again = client.post(f"/jobs/{job_id}/cancel", headers=AUTH)
    assert again.status_code == 409 and "cancelled" in again.json["error"]
    assert client.delete(f"/jobs/{job_id}", headers=AUTH).json["status"] == "removed"
    assert client.get(f"/jobs/{job_id}", headers=AUTH).status_code == 404


def test_openapi_describes_exactly_the_routes(served):
    client, _, _ = served
    document = client.get("/openapi.json", headers=AUTH).json
    app = client.application
    routes = {
        (rule.rule.replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, methods in document["paths"].items() for method in methods}
    assert described == routes


def test_the_item_schema_types_every_field_classify_writes(served):
    from core.inference.prediction import JSON_FIELDS
    from core.results.final import FINAL_FIELDS

    client, _, _ = served
    item = client.get("/openapi.json", headers=AUTH).json["components"]["schemas"]["Item"]
    assert set(item["required"]) == {*JSON_FIELDS, *FINAL_FIELDS} and item["additionalProperties"] is False
    assert all(item["properties"][name].get("type") for name in item["required"])


def test_the_schema_declares_a_token_only_when_the_service_has_one(engine, tmp_path):
    from core.service import openapi

    assert "security" not in openapi.document(engine.bundle) and "security" in openapi.document(engine.bundle, True)


def test_serve_refuses_the_network_without_a_token(capsys, monkeypatch):
    from core.cli import main

    monkeypatch.delenv("DEFECTSORT_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "give a --token" in capsys.readouterr().err


def test_links_never_lead_a_path_job_out_of_its_folder_nor_tell_what_exists(served, tmp_path):
    client, _, _ = served
    shared, elsewhere = tmp_path / "shared", tmp_path / "elsewhere"
    shared.mkdir()
    elsewhere.mkdir()
    (shared / "inside.jpg").write_bytes(_photo(1))
    (elsewhere / "secret.jpg").write_bytes(_photo(2))
    (elsewhere / "secret.zip").write_bytes(zip_bytes({"a.jpg": _photo(3)}))
    (shared / "to_photo.jpg").symlink_to(elsewhere / "secret.jpg")
    (shared / "to_zip.zip").symlink_to(elsewhere / "secret.zip")
    (shared / "to_system.jpg").symlink_to("/etc/shadow")
    (shared / "to_nothing.jpg").symlink_to(elsewhere / "does-not-exist.jpg")
    job = client.post("/jobs", json={"path": str(shared)}, headers=AUTH).json["id"]
    _wait_for(client, job)
    items = {i["name"]: i for i in json.loads(client.get(f"/jobs/{job}/results.json", headers=AUTH).data)["items"]}
    assert items["inside.jpg"]["status"] != "error"
    outside = [items[name] for name in ("to_photo.jpg", "to_zip.zip", "to_system.jpg", "to_nothing.jpg")]
    assert {(i["status"], i["error"]) for i in outside} == {("error", OUTSIDE)}  # one answer: exists or not
    assert "a.jpg" not in items  # the outside ZIP was never opened


def test_contract_odd_bodies_and_archive_names_stay_the_clients(served):
    client, _, _ = served
    assert client.post("/jobs", json=[1], headers=AUTH).status_code == 400
    assert client.post("/jobs", json={"path": 3}, headers=AUTH).status_code == 400
    empty = client.post("/predict_batch", data=_upload(zip_bytes({"notes.txt": b"hello"}), "day.zip"), headers=AUTH)
    assert empty.status_code == 200 and list(empty.json) == ["day.zip"]  # no spooled server path
    detail = client.post(
        "/predict_batch?detail=1", data=_upload(zip_bytes({"notes.txt": b"x"}), "day.zip"), headers=AUTH
    )
    assert [(i["source"], i["name"]) for i in detail.json["items"]] == [("day.zip", "day.zip")]


def test_the_token_comes_from_a_file_or_the_environment(tmp_path, monkeypatch):
    import argparse

    from core.cli.serve import TOKEN_ENV, _token

    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert _token(argparse.Namespace(token=None, token_file=secret)) == "s3cret"
    assert _token(argparse.Namespace(token=None, token_file=None)) == "from-env"


def test_rebinding_and_cross_site_requests_are_refused_and_answers_carry_security_headers(served):
    client, _, _ = served
    rebound = client.post("/jobs", json={"path": "/x"}, headers={**AUTH, "Host": "rebind.evil.example"})
    assert rebound.status_code == 400 and set(rebound.json) == {"error"}
    cross = client.post("/jobs", json={"path": "/x"}, headers={**AUTH, "Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.get("/health", headers={"Host": "127.0.0.1:5000"}).status_code == 200
    same = client.post("/predict", data=_photo(1), headers={**AUTH, "Origin": "http://localhost"})
    assert same.status_code == 200
    page = client.get("/")
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    assert client.get("/health").headers["X-Content-Type-Options"] == "nosniff"


def test_ended_jobs_are_removed_after_the_retention_and_a_cancel_drops_the_upload(engine, tmp_path):
    import os

    store = JobStore(tmp_path / "jobs", keep_days=7)
    old, recent, running = (store.create(None)[0] for _ in range(3))
    store.update(old, status="done")
    store.update(recent, status="cancelled")
    store.update(running, status="running")
    month_ago = time.time() - 30 * 86400
    for job in (old, running):
        os.utime(store.root / job / "job.json", (month_ago, month_ago))
    (store.root / recent / "input.zip").write_bytes(b"zip")
    assert store.prune(7) == 1 and store.get(old) is None  # only the ended, old one
    assert store.get(recent) is not None and store.get(running) is not None
    store.drop_input(recent)
    assert not (store.root / recent / "input.zip").exists()


def test_a_single_photo_waits_one_turn_not_the_whole_batch(engine, tmp_path):
    import threading

    class _Slow:  # an engine whose every photo takes a while
        def __init__(self, inner):
            self.inner = inner

        def classify(self, items):
            items = list(items)
            time.sleep(0.05 * len(items))
            return self.inner.classify(items)

    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(48):
        (folder / f"{i:02d}.jpg").write_bytes(_photo(i % 5))
    (tmp_path / "one.jpg").write_bytes(_photo(7))
    inference = InferenceQueue(_Slow(engine))
    finished = {}

    def batch():
        inference.classify_in_turns(collect_items([folder]))
        finished["batch"] = time.monotonic()

    worker = threading.Thread(target=batch)
    worker.start()
    time.sleep(0.2)  # the batch's first turn is running
    inference.classify(collect_items([tmp_path / "one.jpg"]))
    finished["single"] = time.monotonic()
    worker.join()
    inference.close()
    assert finished["batch"] - finished["single"] > 1.0  # six turns of 0.4 s: the single photo left after two


def test_a_quick_request_goes_before_the_bulk_turns_already_waiting(engine):
    held = _HeldEngine(engine)
    order = []
    held.classify = lambda items: (held.release.wait(10), order.append(len(list(items))), [])[-1]
    inference = InferenceQueue(held)
    running = inference.submit([None] * 8, bulk=True)  # taken by the engine thread, which then waits
    time.sleep(0.2)
    waiting = [inference.submit([None] * 8, wait=True, bulk=True) for _ in range(3)]
    quick = inference.submit([None])
    held.release.set()
    for future in (running, quick, *waiting):
        future.result(10)
    inference.close()
    assert order == [8, 1, 8, 8, 8]


def test_a_wrong_method_is_answered_in_json_with_allow(served):
    client, _, _ = served
    answer = client.open("/health", method="TRACE")
    assert answer.status_code == 405 and set(answer.json) == {"error"}
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}


def test_a_watched_folder_is_classified_beside_the_routes_and_shown_as_it_comes(engine, tmp_path):
    from core.service.watch import ServiceWatch

    inbox = tmp_path / "station"
    inbox.mkdir()
    state = _service(engine, tmp_path / "jobs")
    state.watch = ServiceWatch(engine.bundle, state.inference, [inbox], tmp_path / "jobs" / "watch")
    client = create_app(state, tmp_path / "jobs").test_client()
    try:
        for seed in range(3):
            (inbox / f"p{seed}.jpg").write_bytes(_photo(seed))
        for _ in range(300):
            watch = client.get("/watch").json
            if watch["total"] == 3:
                break
            time.sleep(0.1)
        assert watch["watching"] and watch["folders"] == [str(inbox)] and len(watch["items"]) == 3
        assert client.post("/predict", data=_photo(9)).status_code == 200  # the routes answer meanwhile
        later = client.get("/watch?after=2").json
        assert later["total"] == 3 and [i["name"] for i in later["items"]] == [watch["items"][2]["name"]]
        assert client.get("/watch?after=-1").status_code == 400
    finally:
        state.close()
    assert not state.watch.status()["watching"] and (tmp_path / "jobs" / "watch" / "results.csv").exists()


def test_without_a_watch_nothing_is_watched(served):
    client, _, _ = served
    assert client.get("/watch", headers=AUTH).json == {
        "watching": False,
        "folders": [],
        "landing": 0,
        "total": 0,
        "items": [],
    }
