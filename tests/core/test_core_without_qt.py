"""House rule: core/ never imports Qt or gui. Import every core module with PySide6 blocked."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import core

SCRIPT = """
import importlib, sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'gui'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, _Block())
for name in sys.argv[1:]:
    importlib.import_module(name)
print('imported', len(sys.argv) - 1)
"""


def test_every_core_module_imports_without_qt():
    names = [m.name for m in pkgutil.walk_packages(core.__path__, "core.") if not m.name.endswith("__main__")]
    assert len(names) > 15
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *names],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(core.__file__).parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert f"imported {len(names)}" in result.stdout
