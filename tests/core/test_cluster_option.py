"""Without the cluster extra, ``classify --cluster`` says how to install it; nothing else imports Ray."""

import subprocess
import sys

from core.cli import main


def test_cluster_without_ray_says_how_to_install_it(random_bundle, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    (tmp_path / "a.jpg").write_bytes(b"x")
    assert main(["classify", str(tmp_path), "--model", str(random_bundle.folder), "--cluster", "auto"]) == 2
    assert 'pip install "defectsort[cluster]"' in capsys.readouterr().err


def test_only_the_cluster_module_imports_ray():
    code = "import core.cli, core.inference.engine, core.service.app, sys; print('ray' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
