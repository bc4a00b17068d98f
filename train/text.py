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
import threading
import unicodedata
from typing import Iterable, Sequence

from .sudachi_input import SUDACHI_MAX_BYTES, _halve, split_for_sudachi  # noqa: F401 (SUDACHI_MAX_BYTES: re-exported for train.inference)

NUMBER_TOKEN = "<num>"

# Parts of speech kept: content words.  Everything else (particles,
# auxiliaries, symbols, whitespace, prefixes, suffixes, interjections,
# conjunctions, adnominals, pronouns) is dropped, and so are 非自立可能 verbs,
# adjectives and nouns (「いる」「ある」「する」「参る」...).  「こと」 is not one of
# them (Sudachi tags it 名詞,普通名詞,一般): the stop list below drops it.
_KEEP_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞"}
_DROP_SUBPOS = {"非自立可能", "数詞"}

#: Words that appear in almost every council turn and say nothing of its topic, and the fillers of spoken
#: answers.  Each entry is a Sudachi normalised form (split mode C), because that is what it is compared with:
#: 言う, not いう; 是非, not ぜひ; つく is the form in について (tests/test_text.py checks every entry).  Words
#: Sudachi splits are listed by their part: 皆 (皆さん, 皆様), 理事 (理事者).  The list is part of the analyzer key, so changing it means
#: rebuilding the bundled vectors (ninth session: the entries that never matched were put right, and the
#: fillers added; measured in docs/MODEL.md).
COUNCIL_STOP_WORDS = frozenset(
    """
    質問 答弁 答える 伺う 尋ねる 申し上げる 思う 考える 存じる 承知 認識 願う 御願い 委員 委員長 議員 議長 副議長
    区長 市長 知事 町長 村長 副市長 副知事 理事 当局 部長 課長 局長 所管 担当 説明 発言 答え 以上 本日 只今 先程
    今回 今後 現在 引き続く 是非 大変 非常 様々 必要 重要 今 年度 平成 令和 昭和 ページ 資料 部分 関係 関する
    状況 内容 取り組み 対応 検討 実施 件 点 方 方々 皆 会派 代表 議案 議題 日程 委員会 本会議 会議 休憩 再開
    開会 閉会 散会 起立 賛成 反対 異議 採決 挙手 次 他 等 など 言う 行う 致す つく おる なる
    """.split()
    + """
    こと よう 所 物 そう こう どう 為 先ず 矢張り 風 訳 色々 確り 其々 宜しく 中々 如何 よる おく
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
            raise ConfigError(f"analyzer.split_mode: expected one of 'A', 'B', 'C', found {self.split_mode!r}")
        if self.dictionary not in ("core", "small", "full"):
            raise ConfigError(f"analyzer.dictionary: expected 'core', 'small' or 'full', found {self.dictionary!r}")
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
        if not self.normalize_numbers:
            # Numbers used to be dropped here, and are kept now: a new key, so no cache or vectors built
            # on the old tokens are taken for these.  The default settings' key is unchanged.
            blob += "|numbers-kept"
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


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
            try:
                morphemes = tokenizer.tokenize(piece)
            except Exception as exc:  # sudachipy.errors.SudachiError; imported only when needed
                morphemes = self._tokenize_halves(tokenizer, piece, exc)
            for m in morphemes:
                pid = m.part_of_speech_id()
                if pid in keep:
                    form = m.normalized_form()
                    if form not in stop:
                        out.append(form)
                elif pid in number:  # normalize_numbers = false keeps the number itself ('１２３' → '123')
                    out.append(NUMBER_TOKEN if norm_numbers else m.normalized_form())
        return out

    __call__ = tokens

    def _tokenize_halves(self, tokenizer, piece: str, exc: Exception) -> list:
        """Safety net behind :func:`split_for_sudachi`: Sudachi said ``piece`` is too long (its normalised
        size is what counts, and our estimate of it can lag behind Sudachi's Unicode tables), so analyse its
        halves, halving again as often as needed.  Any other Sudachi error is not ours to hide."""
        from sudachipy.errors import SudachiError

        from .errors import InputError

        if not isinstance(exc, SudachiError) or "too long" not in str(exc).lower():
            raise exc
        halves = _halve(piece)
        if halves is None:
            raise InputError(f"text: Sudachi refused the single character {piece!r} as too long ({exc}); "
                             "expected any character to be analysable: remove it from the text") from exc
        out: list = []
        for half in halves:
            try:
                out.extend(tokenizer.tokenize(half))
            except Exception as inner:  # sudachipy.errors.SudachiError
                out.extend(self._tokenize_halves(tokenizer, half, inner))
        return out

    def batch(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokens(t) for t in texts]


def passthrough(tokens: Sequence[str]) -> Sequence[str]:
    """Analyzer for vectorizers fed pre-tokenized input (module-level so it pickles)."""
    return tokens


def char_normalize(text: str) -> str:
    """Preprocessor for character n-gram features: NFKC-folded, whitespace squeezed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())
