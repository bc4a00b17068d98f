import hashlib
import json
import pickle
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from train.sudachi_input import SUDACHI_MAX_BYTES, split_for_sudachi
from train.text import NUMBER_TOKEN, JapaneseAnalyzer


def test_content_words_normalized_and_filtered():
    toks = JapaneseAnalyzer()("行政手続のオンライン化を進めてまいります。避難所は１２３か所です。")
    assert "行政手続" in toks and "オンライン" in toks and "避難" in toks
    assert "の" not in toks and "を" not in toks and "ます" not in toks  # particles, auxiliaries
    assert "参る" not in toks  # 非自立可能 verb
    assert NUMBER_TOKEN in toks and "123" not in toks and "１２３" not in toks
    assert "伺う" not in JapaneseAnalyzer()("よろしくお願いします。伺います。")  # council stop words


def test_split_modes_differ():
    a = JapaneseAnalyzer(split_mode="A")("選挙管理委員会")
    c = JapaneseAnalyzer(split_mode="C")("選挙管理委員会")
    assert len(a) > len(c)


def test_pickles_settings_only_and_rebuilds():
    an = JapaneseAnalyzer(split_mode="B")
    an("先に一度使う")  # builds the native tokenizer
    blob = pickle.dumps(an)
    assert len(blob) < 500
    back = pickle.loads(blob)
    assert back.settings == an.settings
    assert back("防災訓練を実施") == an("防災訓練を実施")


def test_eight_threads_share_one_analyzer():
    an = JapaneseAnalyzer()
    texts = ["保育園の待機児童対策について伺います。" * 5, "マイナンバーカードの普及率は。" * 5] * 20
    expected = [an(t) for t in texts]
    errors, results = [], {}

    def work(k):
        try:
            results[k] = [an(t) for t in texts]
        except Exception as exc:  # pragma: no cover - the failure we guard against
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == expected for r in results.values())


def test_long_text_is_split_not_refused():
    text = "区の防災対策について質問します。" * 7000  # ~330 KB of UTF-8
    assert len(text.encode()) > 200_000
    toks = JapaneseAnalyzer()(text)
    assert toks.count("防災") == 7000
    one_sentence = "あ" * 70000  # no sentence end at all
    pieces = split_for_sudachi(one_sentence)
    assert all(len(p.encode()) < SUDACHI_MAX_BYTES for p in pieces) and "".join(pieces) == one_sentence
    JapaneseAnalyzer()(one_sentence)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_unicode_never_raises(text):
    toks = JapaneseAnalyzer()(text)
    assert isinstance(toks, list) and all(isinstance(t, str) and t for t in toks)


def test_awkward_inputs():
    an = JapaneseAnalyzer()
    for text in ["\x00\x01\x02", "\ud800abc", "😀" * 1000, "ｶﾞｯｺｳ", "e\u0301" * 50, "ア" * 100_000, "", " \n\t"]:
        assert isinstance(an(text), list)


def test_every_stop_word_is_a_normalised_form_so_it_can_match():
    """The list is compared with normalised forms: いう, 引き続き, 理事者, 皆さん and 皆様 never matched before the
    ninth session, and 言う / 引き続く / 理事 / 皆 stayed in every model's features."""
    from sudachipy import Dictionary, SplitMode

    from train.text import COUNCIL_STOP_WORDS

    tok = Dictionary(dict="core").tokenizer(mode=SplitMode.C)
    in_context = {"つく": "について", "おる": "しております", "なる": "残高がなっている"}  # alone: 付く, 居る, 成る
    never = [w for w in sorted(COUNCIL_STOP_WORDS)
             if w not in [m.normalized_form() for m in tok.tokenize(in_context.get(w, w))]]
    assert never == []
    toks = JapaneseAnalyzer()("皆さん、理事者の方々にいうと、引き続きやはりそういうことで、防災の対策をしっかり進めます。")
    assert toks == ["防災", "対策", "進める"]


# --------------------------------------------------------------------------- the key must follow the tokens

GOLDEN = Path(__file__).parent / "fixtures" / "analyzer_tokens.json"


def _fixture_texts() -> list[str]:
    texts = []
    for name in ("corpus_sample.jsonl", "labels.jsonl"):
        for line in (GOLDEN.parent / name).read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
    return texts


def _analyzer_fingerprint() -> dict:
    """What the default analyzer produces for the fixture texts, and what it calls itself (its key)."""
    from train.cache import sudachi_versions

    analyzer = JapaneseAnalyzer()
    tokens = [analyzer.tokens(t) for t in _fixture_texts()]
    blob = json.dumps(tokens, ensure_ascii=False).encode("utf-8")
    return {"key": analyzer.settings.key, "sudachi": sudachi_versions(analyzer.settings.dictionary),
            "texts": len(tokens), "tokens_sha256": hashlib.sha256(blob).hexdigest()}


def test_the_analyzer_key_changes_whenever_its_tokens_do():
    """The key names the analyzer's output for caches, the bundled vectors and saved models (which refuse another
    key), but it is versioned by hand (the ``|v2|`` marker in ``AnalyzerSettings.key``) beside the settings and the
    stop list: a code change that changes the tokens and not the key would reuse stale cached tokens and vectors
    and load old models silently.  This records the default analyzer's tokens of the fixture texts with its key."""
    now, was = _analyzer_fingerprint(), json.loads(GOLDEN.read_text(encoding="utf-8"))
    regenerate = (f"after rebuilding the bundled vectors (`gikai-topics vectors build`, `vectors general`), write "
                  f"{json.dumps(now, ensure_ascii=False)} to {GOLDEN}")
    if now["sudachi"] != was["sudachi"]:
        pytest.fail(f"SudachiPy or its dictionary changed ({was['sudachi']} -> {now['sudachi']}): check what the "
                    f"tokens became; then {regenerate}")
    if now["key"] == was["key"]:
        assert now["tokens_sha256"] == was["tokens_sha256"], (
            f"the analyzer's tokens of the fixture texts changed but its key did not ({now['key']}): bump the "
            f"version marker in AnalyzerSettings.key (|v2| -> |v3|) so caches, vectors and saved models see the "
            f"change; then {regenerate}")
    else:
        pytest.fail(f"the analyzer key changed ({was['key']} -> {now['key']}): {regenerate}")
