"""``python -m train.cli``: the ``gikai-topics`` command from a checkout (as the console script runs it)."""

from . import entrypoint

entrypoint()
