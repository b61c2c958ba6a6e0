"""Starting a child process (ffmpeg) that cannot outlive the process that started it.

A run-job killed with SIGKILL (the OOM killer, a laptop lid, `kill -9`) runs no
cleanup, so an ordinary child would be reparented to PID 1 and encode on to the
end beside the retry's own encode. On Linux the child asks the kernel, before it
execs, to be sent SIGKILL when its parent dies (``PR_SET_PDEATHSIG``).

The kernel ties that signal to the parent *thread* that forked the child, so the
thread that starts the child must live as long as the child: :func:`start`'s
callers wait for their child on the thread that started it (``_run_ffmpeg`` does).

The child stays in its parent's process group, so the local executor's and
``jobs cancel``'s signal to run-job's group reaches it too.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


#: Looked up once here, in the parent: the child between fork and exec only calls it.
_prctl = _load_prctl()


def _die_with(parent_pid: int, prctl: Callable[..., int]) -> Callable[[], None]:
    def in_child() -> None:
        # Runs in the child after fork, before exec: nothing here may take a lock.
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            # The parent died before the request was made: it would never fire.
            os.kill(os.getpid(), signal.SIGKILL)

    return in_child


def start(args: Sequence[str], **popen: Any) -> subprocess.Popen:
    """``subprocess.Popen(args, **popen)``, the child killed by the kernel when this process dies.

    Elsewhere than Linux the child is an ordinary one.
    """
    if _prctl is not None:
        popen["preexec_fn"] = _die_with(os.getpid(), _prctl)
    return subprocess.Popen(list(args), **popen)
