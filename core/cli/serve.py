"""``defectsort serve``: the model as a REST service with a small web page (Flask, served by waitress).

Binds 127.0.0.1 unless told otherwise; any other address needs a token (the ``DEFECTSORT_TOKEN``
environment variable or ``--token-file``, which keep it out of the process list, or ``--token``).
Everything the service writes (spooled uploads, jobs and their results) goes under ``--jobs-dir``;
even the server's own temporary files.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import os
import socket
import sys
import tempfile
from pathlib import Path

from core.cli.backend_args import add_backend_arguments, engine_options
from core.inference.engine import Engine
from core.model.bundle import BundleError
from core.model.onnx_backend import ONNX_CACHE_ENV
from core.model.registry import resolve_bundle
from core.paths import confine_library_files, default_service_dir
from core.photos.decode import DECODE_MEMORY
from core.results.phones import PhoneGrouping

TOKEN_ENV = "DEFECTSORT_TOKEN"
OVERSIZE_READ_MB = 64  # read past the upload limit before refusing, so that the client gets the JSON 413
log = logging.getLogger(__name__)


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(name, help="run the REST service and its web page", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--model", metavar="NAME|DIR", help="bundle name or folder (default: the phone model)")
    parser.add_argument(
        "--token",
        help=f"bearer token required by every endpoint but /health (shows in the process list: prefer ${TOKEN_ENV} "
        "or --token-file)",
    )
    parser.add_argument("--token-file", type=Path, metavar="FILE", help="read the bearer token from FILE (first line)")
    parser.add_argument("--max-upload-mb", type=int, default=512, help="larger uploads are refused (413)")
    parser.add_argument("--jobs-dir", type=Path, help="where jobs and uploads are kept (default: the user data folder)")
    parser.add_argument(
        "--allow-root",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder whose photos jobs may name by path (repeatable; none: only uploads)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name clients address the service by (repeatable; localhost and 127.0.0.1 always, and with a "
        "network --host this machine's names and addresses): requests for other names are refused",
    )
    parser.add_argument(
        "--keep-jobs",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="ended jobs are deleted with their files this many days after they ended (default 7)",
    )
    parser.add_argument("--threads", type=int, default=8, help="request threads (the model itself runs on one)")
    parser.add_argument("--queue", type=int, default=32, help="requests that may wait for the model (more: 503)")
    parser.add_argument(
        "--decode-memory-mb",
        type=int,
        default=192,
        help="memory all photos being decoded may hold together; a photo needing more is refused (default 192)",
    )
    parser.add_argument(
        "--watch",
        metavar="INBOX",
        type=Path,
        action="append",
        default=[],
        help="also sort photos as they land in this folder (results in JOBS_DIR/watch; GET /watch and the page)",
    )
    parser.add_argument("--watch-group-by", metavar="REGEX|folder", help="with --watch: one verdict per phone")
    add_backend_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted. :returns: the exit code (2 when it cannot start)."""
    try:
        token = _token(args)
    except OSError as error:
        print(f"error: cannot read --token-file: {error}", file=sys.stderr)
        return 2
    if not token and not _is_loopback(args.host):
        print(
            f"error: binding {args.host} opens the service to the network: give a --token (or ${TOKEN_ENV})",
            file=sys.stderr,
        )
        return 2
    jobs_dir = (args.jobs_dir or default_service_dir()).resolve()
    os.environ.setdefault(ONNX_CACHE_ENV, str(jobs_dir / "cache" / "onnx"))  # the model's ONNX export
    confine_library_files(jobs_dir / "cache")  # the entry point did it already, unless called in-process
    try:
        (jobs_dir / "spool").mkdir(parents=True, exist_ok=True)
        bundle = resolve_bundle(args.model)
        grouping = PhoneGrouping(args.watch_group_by) if args.watch_group_by else None
        engine = Engine(bundle, **engine_options(args), export_in_child=True)  # the exporter's memory is not kept
    except (BundleError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    gc.collect()
    gc.freeze()  # the model's long-lived objects: later collections need not walk them (no latency spikes)
    DECODE_MEMORY.limit = args.decode_memory_mb * 2**20  # whatever the uploads hold, decodes stay within it
    tempfile.tempdir = str(jobs_dir / "spool")  # waitress spools large request bodies: keep them here too
    from waitress import serve

    from core.service.app import create_app
    from core.service.inference import InferenceQueue
    from core.service.job_runner import JobRunner
    from core.service.jobs import JobStore
    from core.service.state import Service
    from core.service.watch import ServiceWatch

    inference = InferenceQueue(engine, capacity=args.queue)
    store = JobStore(jobs_dir, keep_days=args.keep_jobs)
    roots = [Path(os.path.realpath(root)) for root in args.allow_root]
    watch = ServiceWatch(bundle, inference, args.watch, jobs_dir / "watch", grouping) if args.watch else None
    state = Service(bundle, inference, store, JobRunner(store, inference, bundle), roots, watch)
    hosts = _allowed_hosts(args.host, args.allowed_host)
    app = create_app(state, jobs_dir, token, args.max_upload_mb, hosts)
    print(
        f"DefectSort service: http://{args.host}:{args.port}/  (model {bundle.name} {bundle.version}; "
        f"jobs in {jobs_dir}{'; token required' if token else ''}; host names answered: "
        f"{', '.join(['localhost', '127.0.0.1', *hosts])})",
        flush=True,
    )
    try:
        serve(
            app,
            host=args.host,
            port=args.port,
            threads=args.threads,
            # bodies somewhat over the limit are still read (to disk, under --jobs-dir) and answered with the
            # JSON 413, so a client that is still sending sees the answer instead of a reset connection
            max_request_body_size=(args.max_upload_mb + OVERSIZE_READ_MB) * 1024 * 1024,
            ident="DefectSort",
        )
    finally:
        state.close()
    return 0


def _token(args: argparse.Namespace) -> str | None:
    """Return the token from ``--token``, ``--token-file`` (its first line) or the environment, else None."""
    if args.token_file is not None:
        lines = args.token_file.read_text(encoding="utf-8").splitlines()
        return (lines[0].strip() if lines else "") or None
    return args.token or os.environ.get(TOKEN_ENV) or None


def _allowed_hosts(bind: str, named: list[str]) -> list[str]:
    """Return the host names requests may be addressed to besides loopback: those named, and for a network
    address this machine's name and addresses (a page elsewhere cannot rebind its own name to us)."""
    hosts = list(named)
    if not _is_loopback(bind):
        if bind not in ("0.0.0.0", "::", ""):
            hosts.append(bind)
        name = socket.gethostname()
        hosts += [name, socket.getfqdn()]
        try:
            hosts += socket.gethostbyname_ex(name)[2]
        except OSError:
            log.info("this machine's addresses could not be listed; name them with --allowed-host")
    return list(dict.fromkeys(host.lower() for host in hosts if host))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
