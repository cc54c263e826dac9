"""The live service under a schema fuzzer (schemathesis, every check), in a sandbox that shows every file
it writes: nothing may land outside ``--jobs-dir`` and the log folder, the home folder included."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.paths import user_log_dir
from tests.e2e.test_service_page import ROOT, _free_port

FUZZING = ["--max-examples", "25", "--seed", "20261202", "--no-color"]  # a fixed seed: a failure can be repeated


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Folders standing in for the user's home, the temporary folder and the working folder."""
    folders = {name: tmp_path / name for name in ("home", "tmp", "cwd", "jobs")}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.setenv("HOME", str(folders["home"]))
    inherited = ("XDG_", "DEFECTSORT_", "MPLCONFIGDIR", "TORCHINDUCTOR_")  # the user's choices, or pytest's
    for name in [name for name in os.environ if name.startswith(inherited)]:
        monkeypatch.delenv(name)
    return folders


@pytest.fixture
def audited_server(random_bundle, sandbox, tmp_path):
    """A running ``defectsort serve`` whose Python file writes are reported; yields (url, process, its stderr)."""
    port = _free_port()
    errors = tmp_path / "server-stderr.txt"  # a file, not a pipe: nobody reads it while the server runs
    env = {**os.environ, "TMPDIR": str(sandbox["tmp"]), "PYTHONPATH": str(ROOT)}
    command = ["serve", "--port", str(port), "--model", str(random_bundle.folder), "--jobs-dir", str(sandbox["jobs"])]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.audit_writes", *command],
        cwd=sandbox["cwd"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors.open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                break
        except OSError:
            if process.poll() is not None:
                pytest.fail(errors.read_text())
            time.sleep(0.1)
    yield url, process, errors
    if process.poll() is None:
        process.terminate()
        process.wait(10)


@pytest.mark.slow
def test_the_fuzzer_finds_nothing_and_nothing_is_written_outside_the_jobs_and_log_folders(audited_server, sandbox):
    url, server, server_errors = audited_server
    fuzzer = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/openapi.json", "--checks", "all", *FUZZING],
        cwd=sandbox["cwd"].parent,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.service_fuzz_hooks", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert fuzzer.returncode == 0, fuzzer.stdout[-6000:]
    summary = fuzzer.stdout.strip().splitlines()[-1]  # e.g. "=== 1 warning in 22.00s ===": no failure, no error
    assert "failure" not in summary and "error" not in summary, fuzzer.stdout[-6000:]
    server.terminate()
    server.wait(30)
    reported = server_errors.read_text()
    allowed = (sandbox["jobs"].resolve(), user_log_dir().resolve())

    def outside(path: Path) -> bool:  # neither in an allowed folder nor one of the folders holding it
        path = path.resolve()
        return not any(path.is_relative_to(root) or root.is_relative_to(path) for root in allowed)

    written = {Path(line[6:]) for line in reported.splitlines() if line.startswith("WROTE ")}
    assert written and not [p for p in written if outside(p) and not str(p).startswith("/dev/")], written
    left = [p for name in ("home", "tmp", "cwd") for p in sandbox[name].rglob("*")]
    assert not [p for p in left if outside(p)], left
