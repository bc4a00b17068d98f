"""Whole-number settings read from ``GIKAI_TOPICS_*`` environment variables.

One reader for every such variable (the HTTP service's limits in :mod:`train.inference`, the Dask worker wait
in :mod:`train.cluster`), so they agree on what counts as unset and on how a bad value is reported (the empty
string means unset, as for ``GIKAI_TOPICS_CACHE``).  It imports nothing of ours but the exceptions, so the Dask
helper and the service's inference surface can both use it.
"""

from __future__ import annotations

from typing import Mapping

from .errors import InputError


def env_int(env: Mapping[str, str], var: str, default: int, low: int, unit: str = "") -> int:
    """``env[var]`` as a whole number >= ``low``; ``default`` when the variable is unset or empty.

    Anything else that is not such a number raises :class:`InputError` naming the variable, what was expected
    (``unit`` says in what, e.g. ``"seconds"``), what was found and the fix."""
    raw = env.get(var)
    if raw is None or raw == "":  # empty means unset; blanks (" ") are refused below: which value was meant?
        return default
    in_unit = f" ({unit})" if unit else ""
    fix = f"set a whole number >= {low}{in_unit}, or unset it for the default ({default})"
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{var}: expected an integer{in_unit}, found {raw!r}; {fix}") from None
    if value < low:
        raise InputError(f"{var}: expected an integer >= {low}{in_unit}, found {raw!r}; {fix}")
    return value
