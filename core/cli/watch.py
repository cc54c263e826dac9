"""``defectsort watch``: sort photos as they land in station folders, all day; send each phone's verdict."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from core.cli.backend_args import add_backend_arguments, engine_options
from core.inference.engine import Engine
from core.model.bundle import BundleError
from core.model.registry import resolve_bundle
from core.photos.arrivals import POLL_S, SETTLE_S
from core.results.phones import PhoneGrouping
from core.station.deliveries import CommandSink, Sink, WebhookSink
from core.station.phones import QUIET_S
from core.station.watch import Station, WatchOptions


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(
        name,
        help="classify photos as they land in folders (a photo station), until stopped",
        description=__doc__ + " Stop with Ctrl+C; a restart on the same --out goes on where it stopped.",
    )
    parser.add_argument("inboxes", nargs="+", metavar="INBOX", type=Path, help="folders the station writes into")
    parser.add_argument(
        "--out", required=True, metavar="DIR", type=Path, help="output folder: results kept current, run journal"
    )
    parser.add_argument("--model", metavar="NAME|DIR", help="bundle name or folder (default: the phone model)")
    parser.add_argument(
        "--group-by",
        metavar="REGEX|folder",
        help="one verdict per phone: the first capture group of a photo's name (or path) names its phone, "
        "or 'folder': the folder holding it",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=QUIET_S,
        metavar="SECONDS",
        help=f"a phone is complete this long after its last photo arrived (default {QUIET_S:.0f})",
    )
    parser.add_argument("--on-phone", metavar="URL", action="append", default=[], help="POST each phone's verdict here")
    parser.add_argument(
        "--on-phone-cmd", metavar="COMMAND", action="append", default=[], help="run this with each verdict on stdin"
    )
    parser.add_argument("--sort", action="store_true", help="copy photos into OUT/<class>/, OUT/review/, OUT/unknown/")
    parser.add_argument("--overlays", action="store_true", help="write heatmap overlays into OUT/overlays/")
    parser.add_argument("--report", metavar="DIR", type=Path, help="write report.html into DIR when the watch stops")
    parser.add_argument(
        "--poll", type=float, default=POLL_S, metavar="SECONDS", help="how often the folders are listed"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE_S,
        metavar="SECONDS",
        help=f"a new file is read once unchanged this long (default {SETTLE_S:.0f}; a file cut short waits longer)",
    )
    parser.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="stop after this long with nothing new (default: never)"
    )
    add_backend_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Watch until stopped. :returns: 0, 1 when some photos failed, 2 when the watch could not start."""
    try:
        options = _options(args)
        bundle = resolve_bundle(args.model)
        engine = Engine(bundle, **engine_options(args))
        station = Station(bundle, engine.classify, args.inboxes, args.out, options, _say)
    except (BundleError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _stop_on_signals(station)
    inboxes = ", ".join(map(str, args.inboxes))
    print(f"Watching {inboxes} with {bundle.name} {bundle.version} into {args.out} (Ctrl+C stops)", flush=True)
    try:
        written = station.run()
    except OSError as error:
        print(f"error: cannot write results: {error}", file=sys.stderr)
        return 2
    tally = station.tally
    phones = ""
    if options.sinks:
        phones = f"; phone verdicts delivered: {tally.delivered}, left for the next start: {tally.undelivered}"
    print(
        f"Stopped. {written.stats.total} photos in {args.out} ({tally.resumed} from before, {tally.classified} new, "
        f"{tally.failed} failed){phones}."
    )
    return 1 if tally.failed else 0


def _options(args: argparse.Namespace) -> WatchOptions:
    """Return the watch's options (raises ValueError on a bad combination)."""
    sinks: list[Sink] = [WebhookSink(url) for url in args.on_phone]
    sinks += [CommandSink(command) for command in args.on_phone_cmd]
    if sinks and not args.group_by:
        raise ValueError("--on-phone and --on-phone-cmd need --group-by (which photos show the same phone)")
    if args.quiet < 0 or args.settle < 0 or args.poll <= 0:
        raise ValueError("--quiet and --settle must be 0 or more, --poll more than 0 seconds")
    return WatchOptions(
        grouping=PhoneGrouping(args.group_by) if args.group_by else None,
        quiet_s=args.quiet,
        sinks=sinks,
        sort=args.sort,
        overlays=args.overlays,
        report=args.report,
        poll_s=args.poll,
        settle_s=args.settle,
        until_idle_s=args.until_idle,
    )


def _say(line: str) -> None:
    print(line, file=sys.stderr if line.startswith("error:") else sys.stdout, flush=True)


def _stop_on_signals(station: Station) -> None:
    """Let Ctrl+C (and a service manager's SIGTERM) stop the watch cleanly: results written, deliveries kept."""

    def stop(*_) -> None:
        station.stop.set()

    signal.signal(signal.SIGINT, stop)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, stop)
