"""Exceptions raised by the gikai-topics library.

The library raises these; only the CLI turns them into a one-line message and a
non-zero exit code.  Messages say what was expected, what was found and, where
possible, how to fix it.
"""

from __future__ import annotations


class GikaiError(Exception):
    """Base class for every error the library raises on purpose.

    Keep subclasses constructible from one message string: parallel fits send them back from worker
    processes by pickling (tests/test_labels.py checks every subclass)."""

    exit_code = 1


class CorpusError(GikaiError):
    """A corpus file could not be read (bad JSON, missing field, bad encoding...)."""


class LabelError(GikaiError):
    """The labeled data is invalid."""


class TaxonomyError(GikaiError):
    """The taxonomy file is missing or invalid."""


class ConfigError(GikaiError):
    """A training configuration value is invalid."""


class ModelError(GikaiError):
    """A model could not be found, loaded or verified."""


class InputError(GikaiError):
    """Input given to a command or to the inference API is invalid."""


class Interrupted(GikaiError):
    """Ctrl-C or SIGTERM stopped a command that keeps finished work for a resume; the message says what is kept."""

    exit_code = 130
