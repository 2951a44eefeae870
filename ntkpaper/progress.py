"""Progress bars (tqdm) for the long loops, sent where they help and never into a notebook's
committed outputs.

Where :func:`progress` writes, first rule that applies:

* ``NTKPAPER_PROGRESS=0``: nowhere (disabled; the tests set it);
* ``NTKPAPER_LOG=path`` (set by the runner to the running notebook's log): appended to that file
  as plain ASCII lines, at most one every 10 s per bar plus a first and a final line, so that the
  executed notebook, which must be the same on every rerun, gets nothing timing-dependent;
* ``NTKPAPER_QUIET`` set (the runner and the tests) but no log: nowhere, for the same reason;
* otherwise (Jupyter by hand, a terminal): ``tqdm.auto`` on stderr (a widget in Jupyter when
  ipywidgets is installed, a text bar otherwise).

Example::

    from ntkpaper.progress import progress

    for width in progress(widths, desc="02 coord check", unit="width"):
        ...
    with progress(desc="fit step", total=steps, delay=5) as bar:
        for t in range(steps):
            ...
            bar.update()

In a log, a 3-width sweep reads::

    02 coord check:   0%|          | 0/3 [00:00<?, ?width/s]
    02 coord check:  67%|######6   | 2/3 [00:12<00:06,  6.10s/width]
    02 coord check: 100%|##########| 3/3 [00:19<00:00,  6.33s/width]
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable

from tqdm import std

LOG_INTERVAL_S = 10.0  # a log is read later, not watched: one line per bar every 10 s at most


def progress(iterable: Iterable | None = None, *, desc: str, total: int | None = None,
             unit: str = "it", delay: float = 0.0) -> std.tqdm:
    """A tqdm bar, routed as the module docstring says.

    Args:
        iterable: what to wrap (``for x in progress(xs, desc=...)``), or ``None`` for a bar
            advanced by hand (``with progress(desc=..., total=n) as bar: ... bar.update(k)``).
        desc: what the bar counts, e.g. ``"02 coord check width 1024"``.
        total: number of expected updates (default ``len(iterable)`` when it has one).
        unit: the name of one update (``"step"``, ``"width"``, ``"block"``).
        delay: show nothing until the bar has run this many seconds (and nothing at all if it
            ends sooner): for loops inside sweeps that are long only sometimes.

    Returns:
        A ``tqdm`` instance: iterable, a context manager, with ``update(n)`` and ``close()``.
    """
    kw = {"desc": desc, "total": total, "unit": unit, "delay": delay}
    if os.environ.get("NTKPAPER_PROGRESS") == "0":
        return std.tqdm(iterable, disable=True, **kw)
    log = os.environ.get("NTKPAPER_LOG")
    if log:
        try:
            lines = _LogLines(log)
        except OSError as e:
            warnings.warn(f"progress bars off: cannot append to NTKPAPER_LOG={log} ({e})",
                          stacklevel=2)
            return std.tqdm(iterable, disable=True, **kw)
        # position 0: no cursor movement between nested bars, each bar writes whole lines;
        # smoothing 0: the rate is the average since the start (a log is read as a record)
        return _LogBar(iterable, file=lines, ascii=True, mininterval=LOG_INTERVAL_S,
                       maxinterval=LOG_INTERVAL_S, smoothing=0, position=0, leave=True, **kw)
    if os.environ.get("NTKPAPER_QUIET"):
        return std.tqdm(iterable, disable=True, **kw)
    with warnings.catch_warnings():  # without ipywidgets: a text bar, no advice to install it
        warnings.simplefilter("ignore", std.TqdmWarning)
        from tqdm import auto  # imported here: in Jupyter it imports the widget machinery

    return auto.tqdm(iterable, **kw)


class _LogLines:
    """A file for tqdm that turns its in-place updates (``"\\r" + bar``) into appended lines,
    skipping a line equal to the one before (the final update and the closing line)."""

    def __init__(self, path: str):
        self._f = open(path, "a", encoding="utf-8")  # closed with the bar
        self._last = ""

    def write(self, s: str) -> None:
        if self._f.closed:
            return
        for part in s.replace("\x1b[A", "").replace("\r", "\n").split("\n"):
            line = part.rstrip()
            if line.strip() and line != self._last:
                self._f.write(line + "\n")
                self._last = line
        self._f.flush()

    def flush(self) -> None:
        if not self._f.closed:
            self._f.flush()

    def close(self) -> None:
        self._f.close()


class _LogBar(std.tqdm):
    """tqdm writing to a :class:`_LogLines`, which it closes with itself."""

    def close(self) -> None:
        try:
            super().close()
        finally:
            fp = getattr(self, "fp", None)
            if fp is not None:
                fp.close()
