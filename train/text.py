"""Japanese text analysis with SudachiPy.

The import path of this module (``train.text``) is part of every saved model:
keep it stable.  :class:`JapaneseAnalyzer` pickles only its settings and
rebuilds the native Sudachi tokenizer lazily, one per thread (a SudachiPy
tokenizer cannot be pickled and fails with "already in use" when threads share
it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
import unicodedata
from typing import Iterable, Sequence

#: Sudachi refuses inputs over this many UTF-8 bytes.
SUDACHI_MAX_BYTES = 49149
#: We split well below the limit.
CHUNK_BYTES = 40000

NUMBER_TOKEN = "<num>"

# Parts of speech kept: content words.  Everything else (particles,
# auxiliaries, symbols, whitespace, prefixes, suffixes, interjections,
# conjunctions, adnominals, pronouns) is dropped, and so are 非自立可能 verbs,
# adjectives and nouns (「いる」「ある」「する」「こと」...).
_KEEP_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞"}
_DROP_SUBPOS = {"非自立可能", "数詞"}

#: Words that appear in almost every council turn and say nothing of its topic.
COUNCIL_STOP_WORDS = frozenset(
    """
    質問 答弁 答える 伺う 尋ねる 申し上げる 思う 考える 存じる 承知 認識 お願い 願う 御願い 委員 委員長 副委員長 議員 議長
    副議長 区長 市長 知事 町長 村長 副区長 副市長 副知事 理事者 当局 部長 課長 局長 所管 担当 説明 発言 答え 以上 本日
    ただいま 只今 先ほど 先程 今回 今後 現在 引き続き 是非 ぜひ 大変 非常 様々 さまざま 必要 重要 今 年度 平成 令和 昭和
    ページ 資料 部分 関係 関する 状況 内容 取り組み 取組 取組み 対応 検討 実施 について 件 点 方 方々 皆様 皆さん 会派
    代表 議案 議題 日程 委員会 本会議 会議 休憩 再開 開会 閉会 散会 起立 賛成 反対 異議 採決 挙手 次 ほか 他 等 など
    つく いう なる ある いる おる 行う 致す いただく
    """.split()
)


@dataclasses.dataclass(frozen=True)
class AnalyzerSettings:
    split_mode: str = "C"
    dictionary: str = "core"
    stop_words: bool = True
    normalize_numbers: bool = True

    def __post_init__(self) -> None:
        from .errors import ConfigError

        if self.split_mode not in ("A", "B", "C"):
            raise ConfigError(f"split_mode: expected one of 'A', 'B', 'C', found {self.split_mode!r}")
        if self.dictionary not in ("core", "small", "full"):
            raise ConfigError(f"dictionary: expected 'core', 'small' or 'full', found {self.dictionary!r}")
        for name in ("stop_words", "normalize_numbers"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"analyzer.{name}: expected true or false, found {getattr(self, name)!r}")
        import importlib.util

        if importlib.util.find_spec(f"sudachidict_{self.dictionary}") is None:
            raise ConfigError(f"analyzer.dictionary: {self.dictionary!r} needs the sudachidict-{self.dictionary} "
                              f"package, which is not installed: pip install sudachidict-{self.dictionary}, "
                              "or use dictionary = \"core\"")

    @property
    def key(self) -> str:
        """A short hash identifying what this analyzer produces (for caches)."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True) + f"|v2|{sorted(COUNCIL_STOP_WORDS)}"
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])")


def split_for_sudachi(text: str, max_bytes: int = CHUNK_BYTES) -> list[str]:
    """Split ``text`` into pieces of at most ``max_bytes`` UTF-8 bytes.

    Splits at sentence ends (。！？) when it can, otherwise at a character
    boundary.  Short texts come back as one piece.
    """
    if len(text) * 4 <= max_bytes or len(text.encode("utf-8")) <= max_bytes:
        return [text]
    pieces: list[str] = []
    buf: list[str] = []
    size = 0
    for sentence in _SENTENCE_END.split(text):
        n = len(sentence.encode("utf-8"))
        if n > max_bytes:  # one enormous "sentence": cut at character boundaries
            if buf:
                pieces.append("".join(buf))
                buf, size = [], 0
            cur: list[str] = []
            cur_size = 0
            for ch in sentence:
                b = len(ch.encode("utf-8"))
                if cur_size + b > max_bytes:
                    pieces.append("".join(cur))
                    cur, cur_size = [], 0
                cur.append(ch)
                cur_size += b
            if cur:
                buf, size = cur, cur_size
            continue
        if size + n > max_bytes and buf:
            pieces.append("".join(buf))
            buf, size = [], 0
        buf.append(sentence)
        size += n
    if buf:
        pieces.append("".join(buf))
    return [p for p in pieces if p]


# Characters Sudachi should never see: C0/C1 controls (but tab/newline), lone
# surrogates, non-characters.  They carry no topic information.
def _clean(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch in "\n\t" else " "
        for ch in text
        if not (0xD800 <= ord(ch) <= 0xDFFF)
    )


class JapaneseAnalyzer:
    """Callable text → list of content-word tokens (Sudachi normalized forms).

    Thread-safe: the Sudachi dictionary is loaded once and shared; each thread
    lazily builds its own tokenizer from it.  Pickles only its settings.
    """

    def __init__(self, settings: AnalyzerSettings | None = None, **kwargs) -> None:
        self.settings = settings or AnalyzerSettings(**kwargs)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._shared_dictionary = None
        self._keep_pos: frozenset[int] | None = None
        self._number_pos: frozenset[int] | None = None

    # -- pickling: settings only
    def __getstate__(self) -> dict:
        return {"settings": dataclasses.asdict(self.settings)}

    def __setstate__(self, state: dict) -> None:
        self.__init__(AnalyzerSettings(**state["settings"]))

    def __repr__(self) -> str:
        return f"JapaneseAnalyzer({self.settings})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JapaneseAnalyzer) and other.settings == self.settings

    def __hash__(self) -> int:
        return hash(self.settings)

    # -- native objects: one shared dictionary, one tokenizer per thread
    def _tokenizer(self):
        """This thread's tokenizer.  The Sudachi dictionary (~200 MB) is loaded once per analyzer and
        shared; tokenizers are not thread-safe, so each thread gets its own (SudachiPy's usage model)."""
        tok = getattr(self._local, "tokenizer", None)
        if tok is None:
            from sudachipy import SplitMode

            dictionary = self._dictionary()
            tok = dictionary.tokenizer(mode=getattr(SplitMode, self.settings.split_mode),
                                       fields={"pos", "normalized_form"})
            self._local.tokenizer = tok
        return tok

    def _dictionary(self):
        with self._lock:
            if self._shared_dictionary is None:
                from sudachipy import Dictionary

                self._shared_dictionary = Dictionary(dict=self.settings.dictionary)
                self._keep_pos, self._number_pos = self._pos_tables(self._shared_dictionary)
            return self._shared_dictionary

    @staticmethod
    def _pos_tables(dictionary) -> tuple[frozenset[int], frozenset[int]]:
        keep, number = set(), set()
        pos_id = 0
        while True:
            try:
                pos = dictionary.pos_of(pos_id)
            except (IndexError, ValueError, OverflowError):
                break
            if pos is None:
                break
            if pos[0] == "名詞" and pos[1] == "数詞":
                number.add(pos_id)
            elif pos[0] in _KEEP_POS and not (_DROP_SUBPOS & set(pos[1:3])) and pos[1] != "代名詞":
                keep.add(pos_id)
            pos_id += 1
        return frozenset(keep), frozenset(number)

    # -- analysis
    def tokens(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"expected str, found {type(text).__name__}")
        tokenizer = self._tokenizer()
        keep, number = self._keep_pos, self._number_pos
        stop = COUNCIL_STOP_WORDS if self.settings.stop_words else frozenset()
        norm_numbers = self.settings.normalize_numbers
        out: list[str] = []
        for piece in split_for_sudachi(_clean(text)):
            if not piece.strip():
                continue
            for m in tokenizer.tokenize(piece):
                pid = m.part_of_speech_id()
                if pid in keep:
                    form = m.normalized_form()
                    if form not in stop:
                        out.append(form)
                elif pid in number and norm_numbers:
                    out.append(NUMBER_TOKEN)
        return out

    __call__ = tokens

    def batch(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokens(t) for t in texts]


def passthrough(tokens: Sequence[str]) -> Sequence[str]:
    """Analyzer for vectorizers fed pre-tokenized input (module-level so it pickles)."""
    return tokens


def char_normalize(text: str) -> str:
    """Preprocessor for character n-gram features: NFKC-folded, whitespace squeezed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())
