"""Choosing labels to read again by their words: those a new guideline row may touch.

When the guidelines gain a row (``labels/GUIDELINES.md``, a block "Added after …"), the labels made before it that
touch its situation are read again against it.  ``gikai-topics labels select`` finds them by words: each row gets a
name and a regular expression (``--match NAME=REGEX``, or a TOML file of ``NAME = 'REGEX'`` lines with
``--patterns``: single quotes, so that a backslash reaches the expression as written), and every label whose text matches at least one is listed, with the names it matched as
``rows_to_check`` — so the reader knows which rows to hold the utterance against, and that the words may have
matched where the row does not apply at all.

Words only choose what is read.  The readers' file holds the text, the label's current topics and the rows' names;
a reader decides every topic against the whole guidelines, and ``labels revise`` applies the decisions (the same
answers file as for ``labels suspects``).  The file is shuffled (``--seed``): readers judge each turn by itself,
and batches cut from it mix the rows.
"""

from __future__ import annotations

import dataclasses
import random
import re
import tomllib
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Sequence

from ..corpus import UNKNOWN_ASSEMBLY
from ..errors import InputError
from .exclude import excluded_ids
from .store import Example, LabelSet
from .suspects import jsonl_text, next_step, reader_line

#: the fields of a line of the readers' file, in order (``labels suspects``' fields and the rows' names)
READER_FIELDS = ("id", "municipality", "date", "speaker", "current_topics", "rows_to_check", "text")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
_EXAMPLE = "--match housekeeping='傍聴|携帯電話'"
_LINES = "NAME = 'REGEX' lines (single quotes keep backslashes as written)"
#: a pattern matching more than this share of the labels is pointed out (``.`` or ``\b`` select nearly all)
_BROAD = 0.5


def _shown(value: object) -> str:
    """A value for an error message, cut when long."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}... ({len(str(value)):,} characters)"


@dataclasses.dataclass(frozen=True)
class Selected:
    example: Example
    rows: tuple[str, ...]  #: the names of the patterns its text matched, in the patterns' order

    def for_reader(self) -> dict:
        return reader_line(self.example, rows_to_check=list(self.rows))


@dataclasses.dataclass
class Selection:
    selected: list[Selected]
    labels: int  #: labels looked at
    matched: int  #: of those, labels matching at least one pattern (before --exclude, --with-topics and --size)
    per_pattern: dict[str, int]  #: labels each pattern matched (before the filters)
    excluded: int = 0  #: matching labels left out because an --exclude file lists them
    without_topics: int = 0  #: matching labels left out by --with-topics
    beyond_size: int = 0  #: matching labels left out by --size


def _compile(name: str, regex: object, where: str) -> re.Pattern:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(f"{where}: expected a row name of letters, digits, '_' or '-' (at most 64, e.g. "
                         f"'public_comment'), found {_shown(name)}")
    if isinstance(regex, dict):
        raise InputError(f"{where}: {name!r} is a TOML table; expected {_LINES} only (a name with a '.' makes a "
                         "table: use '_' instead)")
    if isinstance(regex, list):
        raise InputError(f"{where}: {name!r} is a list; expected one regular expression per name (join the "
                         "alternatives with '|')")
    if not isinstance(regex, str) or not regex.strip():
        raise InputError(f"{where}: expected a regular expression (a non-empty string) for {name!r}, found "
                         f"{_shown(regex)}")
    if regex != regex.strip():
        raise InputError(f"{where}: the expression for {name!r} starts or ends with a space ({_shown(regex)}), which "
                         "it would then require; remove the spaces (around '=' in --match too)")
    if bad := next((c for c in regex if unicodedata.category(c) == "Cc"), None):
        raise InputError(f"{where}: the expression for {name!r} holds the control character {bad!r} (in a TOML file "
                         "a backslash in double quotes is an escape: \"\\b\" is a backspace); write the pattern in "
                         "single quotes")
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        at = f" at position {exc.pos}" if exc.pos is not None else ""
        raise InputError(f"{where}: {name!r} is not a valid regular expression{at} ({exc.msg}): {_shown(regex)}; fix "
                         "the pattern (a literal '(', '[', '|' or '+' is written with a backslash)") from None
    except OverflowError:
        raise InputError(f"{where}: {name!r} repeats something more times than a regular expression can count "
                         f"({_shown(regex)}); expected repeat counts under 4,294,967,295") from None
    except RecursionError:
        raise InputError(f"{where}: {name!r} nests brackets too deeply to compile ({_shown(regex)}); expected a "
                         "flatter pattern") from None
    if pattern.search("") is not None:
        raise InputError(f"{where}: {name!r} matches the empty text ({_shown(regex)}), so it would select every "
                         "label; expected a pattern that needs some words (is there an empty alternative, as in "
                         "'a|'?)")
    return pattern


def parse_patterns(matches: Sequence[str] = (), patterns_file: Path | None = None) -> dict[str, re.Pattern]:
    """The named patterns of ``--patterns FILE`` (first, in the file's order) and of ``--match NAME=REGEX``."""
    found: list[tuple[str, object, str]] = []
    if patterns_file is not None:
        path = Path(patterns_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8").removeprefix("\ufeff"))
        except FileNotFoundError:
            raise InputError(f"--patterns {path}: no such file; expected a TOML file of {_LINES}")
        except IsADirectoryError:
            raise InputError(f"--patterns {path}: is a folder; expected a TOML file of {_LINES}")
        except UnicodeDecodeError as exc:
            raise InputError(f"--patterns {path}: invalid UTF-8 at byte {exc.start}; the file must be UTF-8")
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"--patterns {path}: not valid TOML ({exc}); expected {_LINES}") from None
        except OSError as exc:
            raise InputError(f"--patterns {path}: cannot read it ({exc.strerror or exc})") from None
        if not data:
            raise InputError(f"--patterns {path}: holds no pattern; expected {_LINES}")
        found += [(name, regex, f"--patterns {path}") for name, regex in data.items()]
    for given in matches:
        name, sep, regex = given.partition("=")
        if not sep:
            raise InputError(f"--match {_shown(given)}: expected NAME=REGEX, a row name and the words that may touch it "
                             f"(e.g. {_EXAMPLE}), found no '='")
        found.append((name.strip(), regex, f"--match {_shown(given)}"))
    if not found:
        raise InputError(f"expected at least one pattern: --match NAME=REGEX (e.g. {_EXAMPLE}) or --patterns FILE "
                         f"(a TOML file of {_LINES}), found none")
    patterns: dict[str, re.Pattern] = {}
    for name, regex, where in found:
        pattern = _compile(name, regex, where)
        if name in patterns:
            raise InputError(f"{where}: the row name {name!r} is given twice; expected each name once (join the "
                             "two patterns with '|')")
        patterns[name] = pattern
    return patterns


def _check_assemblies(assemblies: Sequence[str], examples: Sequence[Example]) -> set[str]:
    known = Counter(ex.municipality or UNKNOWN_ASSEMBLY for ex in examples)
    unknown = [a for a in assemblies if a not in known]
    if unknown:
        shown = ", ".join(f"{a} ({n:,})" for a, n in known.most_common())
        raise InputError(f"--assembly: expected assemblies of the labels ({shown}), found {unknown}; fix the name "
                         "or leave --assembly out for every assembly")
    return set(assemblies)


def select_labels(labels: LabelSet, patterns: dict[str, re.Pattern], *, assemblies: Sequence[str] = (),
                  with_topics: bool = False, exclude: Sequence[Path] = (), size: int | None = None,
                  seed: int = 0) -> Selection:
    """The labels whose text matches at least one pattern, shuffled by ``seed`` (the same labels and seed give the
    same file, whatever the label files' order).  ``assemblies``: only labels of these (municipality names);
    ``with_topics``: only labels with at least one topic (a row that can only take topics away needs no other);
    ``exclude``: reading files or folders of labels read again already (as ``labels suspects --exclude``);
    ``size``: at most this many, drawn at random from the rest."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise InputError(f"--size: expected how many labels to list at most, a whole number >= 1, found {size!r}")
    examples = labels.in_id_order().examples
    only = _check_assemblies(assemblies, examples) if assemblies else None
    excluded = excluded_ids(exclude, {ex.id for ex in examples}) if exclude else set()
    per_pattern = Counter()
    matching: list[Selected] = []
    looked = [ex for ex in examples if only is None or (ex.municipality or UNKNOWN_ASSEMBLY) in only]
    for ex in looked:
        rows = tuple(name for name, p in patterns.items() if p.search(ex.text))
        if rows:
            per_pattern.update(rows)
            matching.append(Selected(ex, rows))
    run = Selection([], labels=len(looked), matched=len(matching),
                    per_pattern={name: per_pattern[name] for name in patterns})
    kept = []
    for s in matching:
        if s.example.id in excluded:
            run.excluded += 1
        elif with_topics and not s.example.topics:
            run.without_topics += 1
        else:
            kept.append(s)
    random.Random(seed).shuffle(kept)
    if size is not None and len(kept) > size:
        run.beyond_size = len(kept) - size
        kept = kept[:size]
    if not kept:
        if not run.matched:
            raise InputError(f"expected labels to list, found none: no label of {run.labels:,} matches the patterns; "
                             "nothing was written. Check the patterns against a few texts (e.g. grep the label files)")
        raise InputError(
            f"expected labels to list, found none: {run.matched:,} of {run.labels:,} labels match the patterns, but "
            + " and ".join(why for n, why in ((run.excluded, f"{run.excluded:,} are listed by --exclude (read again "
                                                            "already)"),
                                              (run.without_topics, f"{run.without_topics:,} have no topic "
                                                                   "(--with-topics)")) if n)
            + "; nothing was written: every matching label is read already or left out")
    run.selected = kept
    return run


def write_selection(run: Selection, out: Path) -> None:
    from ..atomic import atomic_write_all

    atomic_write_all([(out, jsonl_text(s.for_reader() for s in run.selected))])


def summary(run: Selection, out: Path) -> list[str]:
    per = ", ".join(f"{name} {n:,}" for name, n in run.per_pattern.items())
    left = [f"{n:,} {why}" for n, why in ((run.excluded, "listed by --exclude (read again already)"),
                                          (run.without_topics, "without a topic (--with-topics)"),
                                          (run.beyond_size, "beyond --size")) if n]
    lines = [f"{run.matched:,} of {run.labels:,} labels match at least one pattern ({per})",
             (f"left out: {'; '.join(left)}" if left else "none left out"),
             f"wrote {len(run.selected):,} label(s), shuffled, to {out} (text, current topics and the rows matched)"]
    broad = [f"{name} ({n / run.labels:.0%})" for name, n in run.per_pattern.items()
             if run.labels and n > _BROAD * run.labels]
    if broad:
        lines.append(f"note: {', '.join(broad)} of the labels match: is the pattern narrower than it reads? ('.' and "
                     "'\\b' match almost any text)")
    unmatched = [name for name, n in run.per_pattern.items() if not n]
    if unmatched:
        lines.append(f"note: no label matches {', '.join(unmatched)}: check those patterns")
    lines.append(next_step(out, " (the rows named first)"))
    return lines
