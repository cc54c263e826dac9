"""``defectsort gui [PATH...]`` (also plain ``defectsort``): open the window."""

from __future__ import annotations

from core.inference.runtime import BACKENDS


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(name, help="open the DefectSort window (the default)", description=__doc__)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="photos, folders or ZIPs to classify at once")
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="once PATHs are classified, save a picture of the window there and quit (support)",
    )
    parser.add_argument(
        "--watch", metavar="FOLDER", help="watch this station folder from the start (File > Watch a folder)"
    )
    parser.add_argument(
        "--backend",
        choices=("auto", *BACKENDS),
        help="inference backend; kept as the window's setting (Model > Inference)",
    )


def run(args) -> int:
    """Start the GUI. :returns: its exit code."""
    from gui.app import run_app  # Qt is only imported when the window is wanted

    return run_app(args.paths, args.screenshot, args.backend, args.watch)
