"""The README's two set-up commands are the ones CI runs and the package provides."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_command(label: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {label} -->\s*```(?:bash|sh)?\n(.+?)\n```", text, re.DOTALL)
    assert match, f"README has no '{label}' command block"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    command = _readme_command("test-command")
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines


def test_install_command_starts_the_app_entry_point():
    command = _readme_command("install-command")
    assert "pip install" in command and command.rstrip().endswith("defectsort")
