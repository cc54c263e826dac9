"""``defectsort serve``: the model as a REST service with a small web page (Flask, served by waitress).

Binds 127.0.0.1 unless told otherwise; any other address needs a token (``--token`` or the
``DEFECTSORT_TOKEN`` environment variable). Everything the service writes (spooled uploads,
jobs and their results) goes under ``--jobs-dir``; even the server's own temporary files.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import os
import sys
import tempfile
from pathlib import Path

from core.cli.backend_args import add_backend_arguments, engine_options
from core.inference.engine import Engine
from core.model.bundle import BundleError
from core.model.registry import resolve_bundle
from core.paths import user_data_dir

TOKEN_ENV = "DEFECTSORT_TOKEN"
log = logging.getLogger(__name__)


def add_parser(subparsers, name: str) -> None:
    """Register the sub-command and its options."""
    parser = subparsers.add_parser(name, help="run the REST service and its web page", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--model", metavar="NAME|DIR", help="bundle name or folder (default: the phone model)")
    parser.add_argument("--token", help=f"bearer token required by every endpoint but /health (or ${TOKEN_ENV})")
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
    parser.add_argument("--threads", type=int, default=8, help="request threads (the model itself runs on one)")
    parser.add_argument("--queue", type=int, default=32, help="requests that may wait for the model (more: 503)")
    add_backend_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted. :returns: the exit code (2 when it cannot start)."""
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if not token and not _is_loopback(args.host):
        print(
            f"error: binding {args.host} opens the service to the network: give a --token (or ${TOKEN_ENV})",
            file=sys.stderr,
        )
        return 2
    jobs_dir = (args.jobs_dir or user_data_dir() / "service").resolve()
    try:
        (jobs_dir / "spool").mkdir(parents=True, exist_ok=True)
        bundle = resolve_bundle(args.model)
        engine = Engine(bundle, **engine_options(args))
    except (BundleError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    gc.collect()
    gc.freeze()  # the model's long-lived objects: later collections need not walk them (no latency spikes)
    tempfile.tempdir = str(jobs_dir / "spool")  # waitress spools large request bodies: keep them here too
    from waitress import serve

    from core.service.app import create_app
    from core.service.inference import InferenceQueue
    from core.service.job_runner import JobRunner
    from core.service.jobs import JobStore
    from core.service.state import Service

    inference = InferenceQueue(engine, capacity=args.queue)
    store = JobStore(jobs_dir)
    roots = [Path(os.path.realpath(root)) for root in args.allow_root]
    state = Service(bundle, inference, store, JobRunner(store, inference, bundle), roots)
    app = create_app(state, jobs_dir, token, args.max_upload_mb)
    print(
        f"DefectSort service: http://{args.host}:{args.port}/  (model {bundle.name} {bundle.version}; "
        f"jobs in {jobs_dir}{'; token required' if token else ''})",
        flush=True,
    )
    try:
        serve(
            app,
            host=args.host,
            port=args.port,
            threads=args.threads,
            max_request_body_size=(args.max_upload_mb + 1) * 1024 * 1024,
            ident="DefectSort",
        )
    finally:
        state.close()
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
