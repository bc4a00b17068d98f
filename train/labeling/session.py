"""Active-learning labeling in the terminal (``gikai-topics label``).

A line-based loop over a queue of utterances: the reader sees one utterance,
the model's suggestions (never pre-selected), toggles topics by key and accepts.
Every accepted label is appended and fsynced at once, so a crash loses at most
the utterance on screen; a new session skips everything already labeled.

Plain streams in and out, so tests can drive it with scripted keystrokes::

    run_label_session(["pool.jsonl"], Path("labels/mine.jsonl"), stdin=io.StringIO("1\\ny\\nq\\n"),
                      stdout=io.StringIO())
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from typing import IO, Sequence

from ..appending import append_line_durably
from ..atomic import atomic_write_bytes
from ..locks import file_locked
from ..errors import LabelError
from ..signals import signals_held
from ..taxonomy import Taxonomy, load_taxonomy
from .labeled import LabeledIndex, check_labels_path, labels_locked
from .pool import (Item, build_pool, check_model_for, check_strategy, load_tagger, order_items, say,
                   score_items)
from .store import MODEL_CHOSEN_PREFIX

KEYS = "1234567890abcdefghijklmnoprtvwxz"  # no q, s, u, y: those are commands
HELP = """\
  1-9 0 a b c …  toggle a topic (several at once: '13' or 'dx privacy')
  y or Enter     accept the selection as this utterance's label (nothing selected = zero topics)
  s              skip this utterance (not saved; offered again in a later session)
  u              undo the last accepted label: remove it from the file and show it again
  q              quit (every accepted label is already saved)
  ?              this help
Suggestions are the model's guesses, shown for reference and never selected for you:
decide by reading the whole text against labels/GUIDELINES.md."""


@dataclasses.dataclass
class SessionResult:
    accepted: int = 0
    skipped: int = 0
    undone: int = 0
    remaining: int = 0
    #: utterances labeled by someone else (another session on the same files) after the queue was made
    taken: int = 0
    #: stopped by Ctrl-C or SIGTERM (the CLI then exits 130, as other commands that keep finished work do)
    interrupted: bool = False


def default_annotator() -> str:
    return os.environ.get("USER") or "reader"


def topic_keys(taxonomy: Taxonomy) -> dict[str, str]:
    """key -> topic id, in taxonomy order (1-9, 0, a, b, c for 13 topics)."""
    if len(taxonomy.ids) > len(KEYS):
        raise LabelError(f"{taxonomy.path}: {len(taxonomy.ids)} topics, but the session has keys for only {len(KEYS)}")
    return dict(zip(KEYS, taxonomy.ids))


# --------------------------------------------------------------------------- the file

def remove_label(path: Path, rid: str) -> bool:
    """Remove the last line labeling ``rid`` (atomically, under :func:`~train.locks.file_locked`, so a line
    another session appends meanwhile is not lost with the old version); False if there is none."""
    if not path.exists():
        return False
    with file_locked(path):
        lines = path.read_bytes().split(b"\n")
        for i in range(len(lines) - 1, -1, -1):
            try:
                if json.loads(lines[i]).get("id") == rid:
                    del lines[i]
                    atomic_write_bytes(path, b"\n".join(lines))
                    return True
            except (ValueError, AttributeError):
                continue
    return False


# --------------------------------------------------------------------------- the loop

class LabelSession:
    """The interactive loop over an ordered queue of items."""

    def __init__(self, items: list[Item], out: Path, taxonomy: Taxonomy, *, annotator: str,
                 model_tag: str | None = None, thresholds: dict[str, float] | None = None,
                 stdin: IO[str], stdout: IO[str], strategy: str = "random", index: LabeledIndex | None = None) -> None:
        self.items, self.out, self.taxonomy = items, out, taxonomy
        # what is labeled in the files the queue was made against (at least --out), read again before each
        # utterance and each write: another session appending to them must not make a label twice
        self.index = index if index is not None else LabeledIndex([out]).refresh()
        self.annotator, self.model_tag, self.thresholds = annotator, model_tag, thresholds or {}
        self.stdin, self.stdout, self.strategy = stdin, stdout, strategy
        self.keys = topic_keys(taxonomy)
        self.names = {t.id: t.ja for t in taxonomy.topics}
        self.history: list[tuple[int, list[str]]] = []  # (item index, topics) of accepted labels
        self.result = SessionResult()

    # ---- rendering
    def _header(self, i: int) -> None:
        rec = self.items[i].record
        r = self.result
        say(self.stdout, "─" * 72)
        say(self.stdout, f"[{i + 1}/{len(self.items)}] labeled {r.accepted} · skipped {r.skipped} · "
                         f"order: {self.strategy} · model: {self.model_tag or 'none'}")
        say(self.stdout, f"id: {rec.id}")
        say(self.stdout, f"assembly: {rec.municipality or '-'} · date: {rec.date or '-'} · "
                         f"speaker: {rec.speaker or '-'} · {len(rec.text):,} chars")
        say(self.stdout)
        say(self.stdout, rec.text)
        say(self.stdout)
        item = self.items[i]
        if item.scores is not None:
            sug = item.suggestions(self.thresholds)
            if sug:
                shown = ", ".join(f"{t} {s:.2f}" for t, s in sug.items())
                say(self.stdout, f"model suggests (not selected): {shown}")
            else:
                best = max(item.scores, key=item.scores.__getitem__)
                say(self.stdout, f"model suggests no topic (highest: {best} {item.scores[best]:.2f})")

    def _topics(self, i: int, selected: set[str]) -> None:
        sug = self.items[i].suggestions(self.thresholds)
        width = max(map(len, self.keys.values()))
        for key, tid in self.keys.items():
            mark = "x" if tid in selected else " "
            hint = f"   ← suggested {sug[tid]:.2f}" if tid in sug else ""
            say(self.stdout, f"  {key} [{mark}] {tid:<{width}}  {self.names[tid]}{hint}")
        chosen = [t for t in self.taxonomy.ids if t in selected]
        say(self.stdout, f"selected: {', '.join(chosen) if chosen else '(none = zero topics)'}")
        self.stdout.write("toggle 1-9 0 a-c · y/Enter accept · s skip · u undo · q quit · ? help > ")
        self.stdout.flush()

    # ---- commands
    def _parse(self, line: str) -> tuple[str, list[str]]:
        s = line.strip().lower()
        if s in ("", "y", "s", "u", "q", "?"):
            return {"": "y"}.get(s, s), []
        toggled = []
        for tok in re.split(r"[\s,]+", s):
            if tok in self.names:
                toggled.append(tok)
            elif tok and all(c in self.keys for c in tok):
                toggled.extend(self.keys[c] for c in tok)
            elif tok:
                return "unknown", [tok]
        return "toggle", toggled

    def _labeled_since(self, i: int) -> str | None:
        """``file:line`` of a label of item ``i`` (its id or its text) written since the queue was made, or None."""
        rec = self.items[i].record
        return self.index.refresh().where(rec.id, rec.group)

    def _accept(self, i: int, selected: set[str]) -> None:
        rec, item = self.items[i].record, self.items[i]
        topics = [t for t in self.taxonomy.ids if t in selected]
        unknown = sorted(selected - set(topics))
        if unknown:  # cannot happen through the keys; guards the file anyway
            raise LabelError(f"unknown topic id(s) {unknown}; known ids are listed in labels/topics.yaml")
        row = {"id": rec.id, "municipality": rec.municipality, "date": rec.date, "speaker": rec.speaker,
               "text": rec.text, "topics": topics, "annotator": self.annotator, "source": "label-session",
               "model": self.model_tag,
               "suggested": item.suggestions(self.thresholds) if item.scores is not None else None,
               "selection": self._selection(item)}
        # the check for a label written meanwhile and the append under the lock of the label files checked (the
        # folders of --labels and --out) and --out's own: another session or `labels add`, on this file or another
        # of those folders, cannot slip its label of this utterance in between; a Ctrl-C during the write (fsync
        # can take a while) comes after the count, so the summary and undo know of the label
        with signals_held(), labels_locked([*self.index.paths, self.out]), file_locked(self.out):
            where = self._labeled_since(i)
            if where is None:
                note = append_line_durably(self.out, json.dumps(row, ensure_ascii=False), lock=False)
                self.history.append((i, topics))
                self.result.accepted += 1
        if where is None and note:  # an unfinished line that an interrupted write had left was removed
            say(self.stdout, f"\n{note}")
        if where is not None:
            self.result.taken += 1
            say(self.stdout, f"\nnot saved: {rec.id} was labeled at {where} while it was on screen (another "
                             "session writing to the same files?); that label is kept, yours "
                             f"({topics or 'no topic'}) was not written, so the utterance is not labeled twice")

    def _selection(self, item: Item) -> str:
        """How the utterance came to be read, in the form ``labels pool`` writes (see :mod:`.pool`): model-chosen
        labels are told apart from random ones by evaluation."""
        if self.strategy == "uncertainty" and item.scores is not None:
            return f"{MODEL_CHOSEN_PREFIX}{item.nearest_topic(self.thresholds)} ({self.model_tag})"
        return "random"

    def _undo(self) -> tuple[int, set[str]] | None:
        if not self.history:
            say(self.stdout, f"\nnothing to undo in this session: u takes back labels accepted since it started; "
                             f"one of an earlier session is a line of {self.out}: remove that line to be offered the "
                             "utterance again")
            return None
        with signals_held():  # the file and the session's count change together
            i, topics = self.history.pop()
            removed = remove_label(self.out, self.items[i].record.id)
            self.result.accepted -= 1
            self.result.undone += 1
        rid = self.items[i].record.id
        gone = f"removed from {self.out}" if removed else f"was no longer in {self.out} (removed by another program?)"
        say(self.stdout, f"\nundone: {rid} {gone}; showing it again")
        return i, set(topics)

    def run(self) -> SessionResult:
        i, selected, fresh = 0, set(), True
        bad_reads = 0
        try:
            while i < len(self.items):
                if fresh:
                    if (where := self._labeled_since(i)) is not None:
                        self.result.taken += 1
                        say(self.stdout, f"skipped {self.items[i].record.id}: labeled at {where} since this session "
                                         "started (another session writing to the same files?)")
                        i += 1
                        continue
                    self._header(i)
                    fresh = False
                self._topics(i, selected)
                try:
                    line = self.stdin.readline()
                    bad_reads = 0
                except UnicodeDecodeError:  # bytes from a terminal in another encoding: a key we don't know
                    bad_reads += 1
                    if bad_reads >= 3:  # a stream that keeps failing: stop as at end of input
                        say(self.stdout, "input is not UTF-8; stopping (labels so far are saved)")
                        break
                    say(self.stdout, "unreadable key (not UTF-8); type ? for help")
                    continue
                if not line:  # end of input: same as quit
                    say(self.stdout)
                    break
                cmd, args = self._parse(line)
                if cmd == "q":
                    break
                if cmd == "?":
                    say(self.stdout, HELP)
                elif cmd == "unknown":
                    say(self.stdout, f"unknown key {args[0]!r}; type ? for help")
                elif cmd == "toggle":
                    selected ^= set(args)
                elif cmd in ("y", "s"):
                    if cmd == "y":
                        self._accept(i, selected)
                    else:
                        self.result.skipped += 1
                    i, selected, fresh = i + 1, set(), True
                elif cmd == "u" and (back := self._undo()):
                    (i, selected), fresh = back, True
        except KeyboardInterrupt:
            self.result.interrupted = True
            say(self.stdout, "\ninterrupted")
            if self.history and self.history[-1][0] == i:  # arrived while the label on screen was written
                i, selected = i + 1, set()
        if selected and i < len(self.items):
            chosen = [t for t in self.taxonomy.ids if t in selected]
            say(self.stdout, f"not saved: the topics selected for {self.items[i].record.id} ({', '.join(chosen)}), "
                             "which was not accepted (y); it is offered again next time")
        self.result.remaining = len(self.items) - i
        if i >= len(self.items):
            say(self.stdout, "no more utterances to label in this pool")
        taken = (f"{self.result.taken} labeled meanwhile by another session (not labeled again); "
                 if self.result.taken else "")
        say(self.stdout, f"{self.result.accepted} label(s) saved to {self.out} this session; "
                         f"{self.result.skipped} skipped; {taken}{self.result.remaining} left in the queue. "
                         "Run the same command again to resume.")
        return self.result


# --------------------------------------------------------------------------- entry point

def _check_paths(out: Path, labels_dir: str | Path | None) -> None:
    """Before the session starts: a label chosen must never be lost to a bad --out, nor an old one offered again
    because --labels was mistyped."""
    from .editing import check_label_out

    check_label_out(out)
    check_labels_path(labels_dir)


def run_label_session(pool: Sequence[str | Path], out: str | Path, *, model=None, strategy: str | None = None,
                      assembly: str | None = None, labels_dir: str | Path | None = "labels", max_pool: int = 5000,
                      seed: int = 0, annotator: str | None = None, stdin: IO[str] | None = None,
                      stdout: IO[str] | None = None, taxonomy: Taxonomy | None = None) -> SessionResult:
    """Prepare the queue (exclude labeled items, sample, score, order) and run the loop."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    out = Path(out)
    _check_paths(out, labels_dir)
    if strategy is not None:
        check_strategy(strategy)
    taxonomy = taxonomy or load_taxonomy()
    tagger = load_tagger(model, taxonomy, stdout, strategy)
    check_model_for(strategy, tagger)
    strategy = strategy or ("uncertainty" if tagger else "random")
    index = LabeledIndex([Path(labels_dir) if labels_dir else None, out]).refresh()
    exclude = index.ids, index.groups
    records = build_pool([Path(p) for p in pool], exclude, assembly=assembly, max_pool=max_pool, seed=seed)
    say(stdout, f"{len(records):,} unlabeled utterance(s) in the pool ({len(exclude[0]):,} already labeled "
                f"excluded); order: {strategy}")
    thresholds = dict(tagger.thresholds) if tagger else {}
    items = score_items(records, tagger, stdout) if tagger else [Item(r) for r in records]
    items = order_items(items, strategy, thresholds=thresholds, seed=seed)
    session = LabelSession(items, out, taxonomy, annotator=annotator or default_annotator(),
                           model_tag=tagger.tag_name if tagger else None, thresholds=thresholds,
                           stdin=stdin, stdout=stdout, strategy=strategy, index=index)
    return session.run()
