"""A progress bar driven by the bytes of the capture read so far.

``progress=None`` (the default) shows one only in interactive sessions (a
Python prompt, IPython, Jupyter) and only once the work has taken
:data:`DELAY` seconds; ``True`` shows one at once (and needs tqdm);
``False`` never does.  Jupyter gets tqdm's notebook widget when ipywidgets
is installed, the text bar otherwise.
"""
from __future__ import annotations

import sys
import time
import warnings
from typing import Any

#: Seconds of work before an automatic bar appears.
DELAY = 0.5


def interactive() -> bool:
    """Whether this is an interactive session (prompt, IPython, Jupyter)."""
    if hasattr(sys, 'ps1') or sys.flags.interactive:
        return True
    ipython = sys.modules.get('IPython')
    get = getattr(ipython, 'get_ipython', None)
    return get is not None and get() is not None


def _have_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _tqdm() -> Any:
    """tqdm's class for this session (the notebook widget in Jupyter when
    ipywidgets is installed, the text bar otherwise), or None."""
    try:
        import tqdm
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', tqdm.TqdmWarning)  # "IProgress not found"
        from tqdm.auto import tqdm as bar
    return bar


class Progress:
    """Shows ``position`` of ``total`` bytes; a no-op when disabled."""

    def __init__(self, progress: bool | None, total: int, desc: str) -> None:
        self.bar: Any = None
        self.total = total
        self.desc = desc
        self.delay = DELAY if progress is None else 0.0
        self.enabled = interactive() if progress is None else bool(progress)
        if self.enabled and not _have_tqdm():
            self.enabled = False
            if progress:
                raise ImportError('progress=True needs tqdm: '
                                  'pip install "pcapkit-tcpflow[progress]"')
        self.start = time.monotonic()

    def update(self, position: int) -> None:
        """The reader is at byte position (of total)."""
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.start < self.delay:
                return
            bar = _tqdm()
            if bar is None:
                self.enabled = False
                return
            self.bar = bar(total=self.total, unit='B', unit_scale=True, unit_divisor=1024,
                           desc=self.desc, leave=True)
        step = min(position, self.total) - self.bar.n
        if step > 0:
            self.bar.update(step)

    def close(self, position: int | None = None) -> None:
        """Finish the bar (at position, or where it is)."""
        if position is not None:
            self.update(position)
        if self.bar is not None:
            self.bar.close()
            self.bar = None
