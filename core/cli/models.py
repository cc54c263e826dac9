"""``defectsort models``: list the model bundles the registry finds."""

from __future__ import annotations

from core.registry import find_bundles


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command."""
    subparsers.add_parser(name, help="list installed model bundles", description=__doc__)


def run(args) -> int:
    """Print one line per bundle: name, version, classes, input size, folder."""
    bundles = find_bundles()
    if not bundles:
        print("No model bundles found.")
    for bundle in bundles:
        height, width = bundle.input_hw
        print(
            f"{bundle.name} {bundle.version}  [{', '.join(bundle.classes)}]  {height}x{width} {bundle.arch}"
            f"  {bundle.folder}"
        )
    return 0
