"""``classify --cluster`` on a local Ray: the same results as the local engine, every photo exactly once."""

import json
import os
import struct
from pathlib import Path

import pytest

from core.cli import main
from core.inference.cluster import ClassifyActor, classify_on_cluster
from core.inference.engine import Engine
from core.photos.sources import collect_items
from tests.images import encode, screen_photo, zip_bytes

ray = pytest.importorskip("ray", reason='needs the cluster extra: pip install "defectsort[cluster]"')
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},  # the actors import tests' own actor below
    )
    yield
    ray.shutdown()


@pytest.fixture
def sources(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(10):
        (folder / f"{seed:02d}.jpg").write_bytes(encode(screen_photo(seed, mark=[None, "scratch", "stain"][seed % 3])))
    (folder / "notes.jpg").write_bytes(b"not a photo")
    locked = bytearray(zip_bytes({"secret.jpg": encode(screen_photo(30))}))
    locked[6:8] = struct.pack("<H", 0x1)
    central = locked.rfind(b"PK\x01\x02")
    locked[central + 8 : central + 10] = struct.pack("<H", 0x1)
    (tmp_path / "locked.zip").write_bytes(bytes(locked))
    members = {f"day1/{i}.jpg": encode(screen_photo(40 + i, mark="oil")) for i in range(5)}
    members["../../escape.jpg"] = encode(screen_photo(50))
    (tmp_path / "batch.zip").write_bytes(zip_bytes(members))
    return [folder, tmp_path / "batch.zip", tmp_path / "locked.zip"]


def test_the_cluster_gives_the_local_results(sources, random_bundle, tmp_path):
    local = list(Engine(random_bundle, backend="auto").classify(collect_items(sources)))
    out = tmp_path / "out"
    code = main(
        [
            "classify",
            *map(str, sources),
            "--model",
            str(random_bundle.folder),
            "--cluster",
            "auto",
            "--actors",
            "2",
            "--out",
            str(out),
            "--json",
            str(out / "results.json"),
            "--sort",
        ]
    )
    assert code == 1  # some inputs are unreadable, as locally
    items = json.loads((out / "results.json").read_text())["items"]
    assert [i["source"] for i in items] == [p.source for p in local]  # every item once, in input order
    for item, expected in zip(items, local):
        assert (item["label"], item["status"], item["error"]) == (expected.label, expected.status, expected.error)
        for label, probability in expected.probabilities.items():
            assert item["probabilities"][label] == pytest.approx(probability, abs=1e-5)
    copies = [p for p in out.rglob("*.jpg")]
    assert len(copies) == sum(p.ok for p in local)


def test_a_cluster_run_resumes_from_its_journal(sources, random_bundle, tmp_path, capsys):
    command = ["classify", *map(str, sources), "--model", str(random_bundle.folder), "--out", str(tmp_path / "out")]
    main([*command, "--cluster", "auto"])
    first = json.loads((tmp_path / "out" / "results.json").read_text())["items"]
    capsys.readouterr()
    main([*command, "--cluster", "auto", "--resume"])  # only the unreadable ones go to the cluster again
    assert "This run: 2 new, 16 skipped (already done), 2 failed." in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "results.json").read_text())["items"] == first


class DiesOnceActor(ClassifyActor):
    """Kills its own process on its first batch (once per test, by a marker file), as a crashed node would."""

    def __call__(self, batch):
        marker = Path(os.environ["DEFECTSORT_TEST_MARKER"])
        if not marker.exists():
            marker.write_text("died")
            os._exit(1)
        return super().__call__(batch)


def test_a_dead_actor_loses_and_duplicates_nothing(sources, random_bundle, tmp_path, monkeypatch):
    marker = tmp_path / "died"
    items = collect_items(sources)
    ray.shutdown()  # the actors must see the marker's path
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "DEFECTSORT_TEST_MARKER": str(marker)}},
    )
    predictions = list(classify_on_cluster(items, random_bundle, actors=2, batch_size=4, actor_class=DiesOnceActor))
    assert marker.exists()  # an actor did die
    assert [p.source for p in predictions] == [item.source for item in items]
    assert all(p.ok or p.error != "not returned by the cluster" for p in predictions)
