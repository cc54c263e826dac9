"""``defectsort models``: list the model bundles (every version, with lineage); ``--use NAME@VERSION`` rolls back."""

from __future__ import annotations

import argparse
import sys

from core.model.bundle import BundleError
from core.model.promotion import use_version
from core.model.registry import all_bundles, find_bundles, resolve_bundle


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(
        name, help="list installed model bundles, choose the version in use", description=__doc__
    )
    parser.add_argument("--use", metavar="NAME@VERSION", help="use this version of a model from now on")


def run(args: argparse.Namespace) -> int:
    """Print one line per bundle version (``*`` marks the one in use). :returns: the exit code."""
    if args.use:
        try:
            if "@" not in args.use:
                raise BundleError("--use needs NAME@VERSION, e.g. phone-defects@1.0.0 (see the list below)")
            bundle = resolve_bundle(args.use)
        except BundleError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        use_version(bundle.name, bundle.version)
        print(f"{bundle.name} {bundle.version} is now the version in use.")
    in_use = {(b.name, b.version, str(b.folder)) for b in find_bundles()}
    bundles = all_bundles()
    if not bundles:
        print("No model bundles found.")
    for bundle in sorted(bundles, key=lambda b: (b.name, b.version)):
        height, width = bundle.input_hw
        mark = "*" if (bundle.name, bundle.version, str(bundle.folder)) in in_use else " "
        parent = bundle.lineage.get("parent")
        corrected = sum(bundle.lineage.get("corrections", {}).values())
        origin = f"  from {parent['name']} {parent['version']} + {corrected} corrections" if parent else ""
        print(
            f"{mark} {bundle.name} {bundle.version}  [{', '.join(bundle.classes)}]  {height}x{width} {bundle.arch}"
            f"{origin}  {bundle.folder}"
        )
    return 0
