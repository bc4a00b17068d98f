"""``labels suspects --exclude``: the labels earlier rounds re-read already, read from those rounds' own files.

A label a reader re-read and kept gets no note (``labels revise`` writes one only when the topics change), so the
label files cannot tell which labels were read again; the rounds' files can.  Each ``--exclude`` is a file or a
folder (its ``.jsonl`` and ``.tsv`` files, subfolders included):

* ``.jsonl``: one JSON object per line with a string ``"id"`` (a suspects file, a batch a round read);
* ``.tsv``: ``id<TAB>...`` lines (a reader's answers to ``labels revise``); ``#`` lines are comments;
* any other name: JSONL when its first non-blank line starts with ``{``, else TSV.

Every problem is listed, each as ``file:line: what``, and nothing is left out on a bad file.  An ``--exclude``
none of whose ids is a label is refused (the files of another label set would leave nothing out, silently), and
so is a file with no id at all.  The answers to a ``labels batch`` round are keyed by batch keys, not label ids:
given alone they are refused (its batch ``.jsonl`` carries the ids); in a folder, beside that ``.jsonl``, they are
skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import InputError
from ..jsonline import loads_line
from .batches import is_batch_key, read_text

_SHOWN = 10  # problems listed in one error
EXPECTED = 'expected JSONL lines with a string "id", or id<TAB>... lines'


def excluded_ids(paths: Sequence[Path] | Path | str, known: set[str]) -> set[str]:
    """The label ids the ``--exclude`` files and folders name (``known``: the ids of the labels under review)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    ids: set[str] = set()
    problems: list[str] = []
    for given in map(Path, paths):
        mine: set[str] = set()
        folder = given.is_dir()
        for path in _reading_files(given):
            found, keys_only = _ids_of(path, problems)
            if keys_only and not found & known:
                if not folder:
                    problems.append(f"{path}: its keys are `labels batch` keys (e.g. {sorted(found)[0]!r}), not label "
                                    "ids: pass the batch .jsonl beside it, which holds the ids, or the folder")
                continue
            mine |= found
        if mine and not mine & known:
            problems.append(f"{given}: none of its {len(mine):,} id(s) is a label here (e.g. {sorted(mine)[0]!r}): "
                            "check that --labels is the label set it was read from, or leave this --exclude out")
        ids |= mine
    if problems:
        more = f"; ... ({len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise InputError("--exclude: " + "; ".join(problems[:_SHOWN]) + more)
    return ids


def _reading_files(given: Path) -> list[Path]:
    if not given.is_dir():
        return [given]  # a missing file is reported by read_text
    found = sorted(p for p in given.rglob("*") if p.suffix.lower() in (".jsonl", ".tsv") and p.is_file())
    if not found:
        raise InputError(f"--exclude {given}: a folder with no .jsonl or .tsv file (subfolders included); expected "
                         "a round's reading files (suspects or batch JSONL, answers TSV), or the files themselves")
    return found


def _ids_of(path: Path, problems: list[str]) -> tuple[set[str], bool]:
    """The ids of one reading file, problems appended; and whether its ids are all ``labels batch`` keys (TSV)."""
    text = read_text(path, "--exclude reading").removeprefix("\ufeff")
    lines = [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    suffix = path.suffix.lower()
    as_json = suffix == ".jsonl" or (suffix != ".tsv" and bool(lines) and lines[0][1].lstrip().startswith("{"))
    ids: set[str] = set()
    before = len(problems)
    for n, line in lines:
        where = f"{path}:{n}"
        if as_json:
            try:
                record = loads_line(line, where, InputError)
            except InputError as exc:
                problems.append(str(exc))
                continue
            rid = record.get("id") if isinstance(record, dict) else None
            if not isinstance(rid, str) or not rid.strip():
                problems.append(f"{where}: expected a JSON object with a string \"id\", found {line!r:.80}")
                continue
            ids.add(rid)
        elif line.lstrip().startswith("#"):
            continue
        elif line.lstrip().startswith(("{", "[")):
            problems.append(f"{where}: a JSON line in a TSV file; {EXPECTED} (name a JSONL file .jsonl)")
        elif not (key := line.split("\t", 1)[0].strip()):
            problems.append(f"{where}: no id before the first tab; {EXPECTED}")
        else:
            ids.add(key)
    if not ids and len(problems) == before:
        problems.append(f"{path}: no ids found; {EXPECTED}")
    keys_only = not as_json and bool(ids) and all(map(is_batch_key, ids))
    return ids, keys_only
