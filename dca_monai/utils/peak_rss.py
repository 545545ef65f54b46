"""Peak resident memory of one piece of work in this process, for the CPU benchmarks (Linux).

Writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's high-water mark (``VmHWM``) to the
current resident set, so the peak read afterwards belongs to the measured work alone, not to
whatever loaded the data or built the model before it.
"""

from __future__ import annotations

from collections.abc import Callable


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} line")


def peak_rss_bytes(work: Callable[[], object]) -> int:
    """Run ``work()`` and return its peak resident memory above the resident set before it, in bytes."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    before = _status_kib("VmRSS")
    work()
    return max(0, _status_kib("VmHWM") - before) * 1024
