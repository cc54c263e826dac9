"""Writing files safely: atomic replacement, safe unique names, staying inside a folder."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)
FILE_MODE = 0o644
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never half.

    :param path: destination; missing parent folders are created
    :param data: the bytes to write
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".", suffix=".part", delete=False) as handle:
        handle.write(data)
        temporary = Path(handle.name)
    try:
        os.chmod(temporary, FILE_MODE)  # temporary files are private (0600); results are not
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


@contextmanager
def atomic_text_file(path: Path) -> Iterator[IO[str]]:
    """Write a large UTF-8 text file piece by piece; it appears whole at ``path`` when the block ends.

    :param path: destination; missing parent folders are created
    :returns: (as a context manager) the open text file to write to
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, before it replaces the target
        "w", encoding="utf-8", newline="", dir=path.parent, prefix=".", suffix=".part", delete=False
    )
    temporary = Path(handle.name)
    try:
        with handle:
            yield handle
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def safe_file_name(name: str, fallback: str = "image") -> str:
    """Reduce any name (possibly ``../../x.jpg`` or ``C:\\a\\b.png``) to a harmless file name.

    :param name: a file name or path from an untrusted source
    :param fallback: used when nothing printable is left
    :returns: a base name without separators, control characters or reserved device names
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    stem = base.split(".")[0].lower()
    if not base or stem in _RESERVED:
        base = f"{fallback}_{base}" if base else fallback
    return base[:150]


def unique_path(folder: Path, name: str, taken: set[str]) -> Path:
    """Pick ``folder/name``, adding ``_2``, ``_3``... until the name is free.

    :param folder: destination folder
    :param name: a safe file name
    :param taken: lower-case names already used in this folder; updated
    :returns: a path inside ``folder`` that does not exist yet
    """
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    candidate, counter = name, 1
    while candidate.lower() in taken or (folder / candidate).exists():
        counter += 1
        candidate = f"{stem}_{counter}{dot}{suffix}"
    taken.add(candidate.lower())
    path = folder / candidate
    if path.resolve().parent != folder.resolve():
        raise ValueError(f"refusing to write outside {folder}: {name!r}")
    return path


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
