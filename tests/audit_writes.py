"""Run a DefectSort command with every file write reported: ``python -m tests.audit_writes serve ...``.

A Python audit hook sees each ``open`` for writing, each new folder and each rename made by
Python code or by a library through Python, and prints ``WROTE <path>`` on standard error (with
``os.write``, so reporting writes nothing itself). Native libraries writing on their own are not
seen: the test that uses this also compares the folders before and after.
"""

import os
import runpy
import sys

_WRITING_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_EVENTS = {"os.mkdir": 0, "os.rename": 1, "os.replace": 1, "os.symlink": 1, "os.link": 1}  # the new path's index


def _report(path) -> None:
    if isinstance(path, int):
        return  # an already open descriptor
    os.write(2, f"WROTE {os.fsdecode(os.path.abspath(path))}\n".encode())


def _hook(event: str, args: tuple) -> None:
    if event == "open":
        path, mode, flags = args
        writing = (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & _WRITING_FLAGS)
        if writing and path is not None:
            _report(path)
    elif event in _EVENTS:
        _report(args[_EVENTS[event]])


if __name__ == "__main__":
    sys.addaudithook(_hook)
    sys.argv = ["core", *sys.argv[1:]]
    runpy.run_module("core", run_name="__main__", alter_sys=True)
