"""Request bodies spooled to disk inside the service's folder, never held whole in memory.

An upload is either the multipart field ``file`` or the raw request body. Its size is
checked against the limit from ``Content-Length`` before anything is read (413), and again
while it is copied (a body without a length cannot slip past the limit). Multipart parts
are spooled by :class:`SpoolingRequest` into the same folder instead of the system's
temporary folder: the service writes nowhere but its ``--jobs-dir``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO

from flask import Request, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

CHUNK = 1024 * 1024
_PLAIN_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


class SpoolingRequest(Request):
    """Flask's request, spooling uploaded files into the app's ``SPOOL_DIR``."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return tempfile.TemporaryFile(dir=current_app.config["SPOOL_DIR"])  # deleted when closed


class Upload:
    """One uploaded file on disk (deleted on :meth:`close`) and the name the client gave it."""

    def __init__(self, path: Path, name: str):
        self.path, self.name = path, name

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        """Delete the spooled file."""
        self.path.unlink(missing_ok=True)


def receive_upload(suffix: str, default_name: str) -> Upload:
    """Spool this request's upload (multipart ``file`` or the raw body) to a file in ``SPOOL_DIR``.

    :param suffix: the spooled file's suffix (``.zip`` for archives, or the upload's own)
    :param default_name: the name of a raw body (it has none)
    :raises RequestEntityTooLarge: over ``MAX_CONTENT_LENGTH`` (413)
    :raises BadRequest: when nothing was sent (400)
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"upload over the {limit // (1024 * 1024)} MB limit")
    if request.mimetype == "multipart/form-data":
        part = request.files.get("file")
        if part is None:
            raise BadRequest("no file: send it as the multipart field 'file' or as the request body")
        name = PurePosixPath((part.filename or default_name).replace("\\", "/")).name or default_name
        source: IO[bytes] = part.stream
    else:
        name, source = default_name, request.stream
    spooled = _spool(source, suffix or _plain_suffix(name), limit)
    if spooled.stat().st_size == 0:
        spooled.unlink()
        raise BadRequest("empty upload: send a photo or a ZIP archive")
    return Upload(spooled, name)


def _plain_suffix(name: str) -> str:
    """Return the name's suffix when it is a plain one (``.jpg``), else ``""``: it becomes part of a file name."""
    suffix = PurePosixPath(name).suffix
    return suffix if _PLAIN_SUFFIX.match(suffix) else ""


def _spool(source: IO[bytes], suffix: str, limit: int) -> Path:
    handle, name = tempfile.mkstemp(suffix=suffix, dir=current_app.config["SPOOL_DIR"])
    path = Path(name)
    written = 0
    try:
        with open(handle, "wb") as target:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise RequestEntityTooLarge(f"upload over the {limit // (1024 * 1024)} MB limit")
                target.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def move_upload(upload: Upload, target: Path) -> None:
    """Move a spooled upload to ``target`` (a job's folder: the same disk, so a rename)."""
    shutil.move(str(upload.path), target)
