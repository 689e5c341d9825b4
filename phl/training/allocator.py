"""CPU allocator tuning for training (glibc only).

Autograd allocates and frees the same large buffers every step. By default glibc returns them to
the operating system each time (mmap/munmap and heap trimming), and the page faults that follow
cost more than the arithmetic: measured here, an HVP step (400 molecules of 14 atoms) takes
0.56 s by default and 0.41 s with freed memory kept in the heap; the E-F step is unchanged
(0.17 s). ``mallopt`` changes this for the running process only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_done = False


def keep_freed_memory(mmap_threshold: int = 1 << 30, trim_threshold: int = 1 << 32, top_pad: int = 1 << 28) -> bool:
    """Ask glibc to serve large blocks from the heap and not to trim it; True if applied."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = all(
            libc.mallopt(opt, val) == 1
            for opt, val in (
                (_M_MMAP_THRESHOLD, mmap_threshold),
                (_M_TRIM_THRESHOLD, trim_threshold),
                (_M_TOP_PAD, top_pad),
            )
        )
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to tune
        return False
    _done = ok
    log.info("glibc allocator tuned for training: %s", ok)
    return ok
