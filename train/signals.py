"""Holding Ctrl-C (SIGINT) and SIGTERM back while something must not stop halfway: renames that belong together,
BentoML's copy of a model into its store, a label and the session's count of it."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator


_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def signals_held() -> Iterator[Any]:
    """Hold SIGINT and SIGTERM back for the duration of the block; yields a function telling
    whether one of them arrived meanwhile.  On leaving the block the held signal is raised again,
    for the handler that was in place before.  (The handlers are swapped rather than the signals
    masked: a process-directed signal goes to any thread that does not mask it.)  Outside the
    main thread, where handlers cannot be changed, nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    caught: list[int] = []
    # an ignored signal stays ignored (nothing to undo for it); a handler installed outside Python
    # (getsignal() is None) could not be put back, so it is left alone too
    swapped = {s: h for s in _HELD_SIGNALS if (h := signal.getsignal(s)) not in (signal.SIG_IGN, None)}
    for s in swapped:
        signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield lambda: bool(caught)
    finally:
        for s, handler in swapped.items():
            signal.signal(s, handler)
        if caught:
            signal.raise_signal(caught[0])
