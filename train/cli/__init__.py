"""The ``gikai-topics`` command line.

Each command is a thin typer function over a plain function of the library.
Library errors (:class:`train.errors.GikaiError`) become one line on stderr and
a non-zero exit; nothing else is caught here.
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
    from . import corpus_cmd, eval_cmd, labels_cmd, model_cmd  # noqa: F401  (commands register themselves)


def main(argv: list[str] | None = None) -> int:
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except GikaiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        return 1
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


def entrypoint() -> None:  # console script
    sys.exit(main())
