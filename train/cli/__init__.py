"""The ``gikai-topics`` command line.

Each command is a thin typer function over a plain function of the library, which it imports in its body, not
at the top of its module: ``--help`` and usage errors load typer and rich but none of the library (numpy, scipy,
scikit-learn, BentoML, Sudachi... a second or more), only ``train.errors`` and ``train.paths``
(tests/test_review10_cli.py checks which modules load; ``python -m bench --sections startup`` times it).

Library errors (:class:`train.errors.GikaiError`) become one line on stderr and
a non-zero exit, and so do errors of the operating system that the library did not
turn into its own (``OSError``: no permission, a full disk, a folder where a file
was expected); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

from ..errors import GikaiError

app = typer.Typer(
    name="gikai-topics",
    help="Tag utterances of Japanese local-assembly minutes with policy topics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from . import (check_cmd, corpus_cmd, eval_cmd, find_cmd, label_cmd, labels_cmd, model_cmd, review_cmd,  # noqa: F401
                   serve_cmd, tag_cmd, vectors_cmd)  # (commands register themselves)


def _interrupt(signum, frame):  # SIGTERM behaves like Ctrl-C: unwind, write nothing half-done
    raise KeyboardInterrupt


def _install_signal_handlers() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignored SIGINT
        signal.signal(signal.SIGTERM, _interrupt)


def _tolerant_stdout() -> None:
    """Tables and messages on a terminal whose encoding lacks Japanese (a Latin-1 locale): escapes instead of a
    UnicodeEncodeError traceback.  (JSON and JSONL outputs are UTF-8 whatever the locale: ``utf8_stdout``.)"""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure and (getattr(sys.stdout, "encoding", None) or "utf-8").lower().replace("-", "") != "utf8":
        reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    _install_signal_handlers()
    _tolerant_stdout()
    try:
        _register()  # the command modules (light: the library loads when a command runs); Ctrl-C is exit 130 here too
        code = app(args=argv, prog_name="gikai-topics", standalone_mode=False)  # Exit codes returned, not exited
        if code == 130:
            print("error: interrupted; nothing was written", file=sys.stderr)
        return code if isinstance(code, int) else 0
    except GikaiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {_describe_os_error(exc)}", file=sys.stderr)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:  # click turns KeyboardInterrupt into Abort
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # click usage errors (bad option, missing argument, bad value)
        if isinstance(exc, _usage_error_types()):
            exc.show()
            return exc.exit_code
        raise


def _describe_os_error(exc: OSError) -> str:
    """``FILE: reason`` (``FILE -> OTHER: reason`` for a rename), or the reason alone."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return reason
    return f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "") + f": {reason}"


def _usage_error_types() -> tuple[type, ...]:
    """Click's exception base, wherever it comes from: typer >= 0.20 bundles its own click (``typer._click``)."""
    import importlib

    found = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(name).ClickException)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def entrypoint() -> None:  # console script
    sys.exit(main())
