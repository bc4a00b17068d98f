"""Seventh review, analyzer: texts that grow on Sudachi's input normalisation, the token cache's
dictionary versions, ``normalize_numbers = false``."""

import json
import re
import sys
import unicodedata

import pytest

import train.text as text_mod
from train.errors import InputError
import train.sudachi_input as input_mod
from train.sudachi_input import (CHUNK_BYTES, NORMALIZED_CHUNK_BYTES, SUDACHI_MAX_NORMALIZED_BYTES, split_for_sudachi,
                                 sudachi_input_bytes)
from train.text import AnalyzerSettings, JapaneseAnalyzer


@pytest.fixture(scope="module")
def analyzer():
    return JapaneseAnalyzer()


# -- 1. texts that grow on normalisation ('㍿' → '株式会社': 3 bytes → 12)

def test_default_analyzer_key_is_the_one_saved_models_and_bundled_vectors_carry():
    assert AnalyzerSettings().key == "f9b0eb0472ab"


@pytest.mark.parametrize("n", [5462, 20000])
def test_text_that_expands_past_sudachis_limit_is_split_not_refused(analyzer, n):
    text = "㍿" * n  # 16,386 bytes → 65,544 once normalised: Sudachi refused it
    assert len(text.encode()) < CHUNK_BYTES or n == 20000
    assert analyzer(text) == ["株式会社"] * n
    pieces = split_for_sudachi(text)
    assert "".join(pieces) == text and len(pieces) > 1
    assert all(sudachi_input_bytes(p) <= NORMALIZED_CHUNK_BYTES for p in pieces)


def test_mixed_long_text_splits_at_sentence_ends_and_keeps_every_token(analyzer):
    sentence = "㍿" * 400 + "の防災訓練について、ＤＸ推進課に伺います。"
    text = sentence * 40  # ~50 KB of UTF-8, ~195 KB once normalised: the normalised size decides the cuts
    pieces = split_for_sudachi(text)
    assert "".join(pieces) == text and len(pieces) > 2
    assert all(p.endswith("。") for p in pieces)  # cut at sentence ends only
    assert all(len(p.encode()) <= CHUNK_BYTES and sudachi_input_bytes(p) <= NORMALIZED_CHUNK_BYTES
               for p in pieces)
    assert analyzer(text) == analyzer(sentence) * 40
    assert analyzer(sentence).count("株式会社") == 400 and "防災" in analyzer(sentence)


def test_ordinary_long_text_splits_exactly_as_the_byte_limit_alone_would():
    text = "区の防災対策について、ＩＣＴとＤＸの推進を質問します。㈱①\n" * 6000
    assert len(text.encode()) > 3 * CHUNK_BYTES
    assert split_for_sudachi(text) == split_for_sudachi(text, max_normalized_bytes=10 ** 9)


def test_estimate_is_never_below_what_sudachi_reports(analyzer):
    """Sudachi names the normalised size it refuses; our estimate must be at least that."""
    from sudachipy import Dictionary

    raw = Dictionary(dict="core").tokenizer()
    for ch in ["㍿", "ﷺ", "İ", "㌖", "Ǆ", "ﬃ", "㋿"]:
        n = SUDACHI_MAX_NORMALIZED_BYTES // max(1, sudachi_input_bytes(ch) - 1)
        text = ch * min(n, 49149 // len(ch.encode()))
        try:
            raw.tokenize(text)
        except Exception as exc:  # the only way to read Sudachi's own count
            reported = int(re.search(r"was (\d+)", str(exc)).group(1))
            assert reported <= sudachi_input_bytes(text), (ch, reported)
        assert isinstance(analyzer(text), list)  # and ours never refuses it


def test_no_character_grows_past_the_constant_the_fast_path_trusts():
    worst = max(input_mod._normalized_char_bytes(chr(cp)) for cp in range(sys.maxunicode + 1)
                if not 0xD800 <= cp <= 0xDFFF)
    # with this Python's Unicode tables; Sudachi's may be newer, which the halving safety net (below) covers
    assert worst == input_mod._MAX_NORMALIZED_CHAR_BYTES, unicodedata.unidata_version


def test_too_long_from_sudachi_halves_the_piece_and_retries(analyzer, monkeypatch):
    """The safety net for an estimate that lags behind Sudachi's Unicode tables: with no splitting at
    all, Sudachi's 'too long' is answered by analysing halves."""
    expected = analyzer("㍿" * 20000 + "。防災訓練。")
    monkeypatch.setattr(text_mod, "split_for_sudachi", lambda t: [t])
    assert analyzer("㍿" * 20000 + "。防災訓練。") == expected
    sentences = "".join(f"第{i}回の防災訓練を実施した。" + "㍿" * 300 for i in range(60))
    assert analyzer(sentences).count("防災") == 60


class _FakeTokenizer:
    def __init__(self, limit, message="Input is too long, it can't be more than 65535 bytes, was 99999"):
        self.limit, self.message, self.calls = limit, message, []

    def tokenize(self, piece):
        from sudachipy.errors import SudachiError

        self.calls.append(piece)
        if len(piece) > self.limit:
            raise SudachiError(self.message)
        return list(piece)


def test_halving_cuts_at_the_sentence_end_nearest_the_middle(analyzer):
    from sudachipy.errors import SudachiError

    fake = _FakeTokenizer(limit=8)
    piece = "あいう。えおかきく。けこ"
    out = analyzer._tokenize_halves(fake, piece, SudachiError(fake.message))
    assert "".join(out) == piece
    assert fake.calls == ["あいう。", "えおかきく。けこ"]  # the sentence end nearest the middle (4 vs 10 of 12)
    fake = _FakeTokenizer(limit=2)
    out = analyzer._tokenize_halves(fake, "あいうえお", SudachiError(fake.message))
    assert out == list("あいうえお") and fake.calls == ["あい", "うえお", "う", "えお"]  # no sentence end: middle


def test_a_character_sudachi_still_refuses_is_an_input_error_not_a_traceback(analyzer):
    from sudachipy.errors import SudachiError

    fake = _FakeTokenizer(limit=0)
    with pytest.raises(InputError, match="expected any character to be analysable"):
        analyzer._tokenize_halves(fake, "㍿㍿", SudachiError(fake.message))


def test_other_sudachi_errors_are_not_hidden_by_halving(analyzer):
    from sudachipy.errors import SudachiError

    fake = _FakeTokenizer(limit=0, message="something else entirely")
    with pytest.raises(SudachiError, match="something else"):
        analyzer._tokenize_halves(fake, "防災", SudachiError(fake.message))
    assert fake.calls == []


def test_service_answers_200_for_an_expanding_text_under_its_character_limit(asgi_client):
    r = asgi_client.post("/tag", content=json.dumps({"text": "㍿" * 5462}),
                         headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert set(r.json()) >= {"topics", "scores"}


# -- 2. the token cache depends on the Sudachi and dictionary versions, not only on the settings

def test_token_cache_file_names_the_sudachi_and_dictionary_versions(tmp_path, analyzer, monkeypatch):
    import train.cache as cache_mod
    from importlib import metadata

    versions = cache_mod.sudachi_versions("core")
    assert versions == f"sudachipy {metadata.version('sudachipy')}; sudachidict-core {metadata.version('sudachidict-core')}"
    assert cache_mod.sudachi_versions("small").startswith("sudachipy ")  # a missing package still names itself

    old = cache_mod.TokenCache(analyzer, tmp_path)
    assert old.tokens(["防災訓練を実施"]) == [("防災", "訓練")]
    old.save()
    assert old.path.is_file() and analyzer.settings.key in old.path.name

    monkeypatch.setattr(cache_mod, "sudachi_versions", lambda dictionary: versions.replace("sudachidict-core ", "sudachidict-core 1"))
    bumped = cache_mod.TokenCache(analyzer, tmp_path)
    assert bumped.path != old.path and analyzer.settings.key in bumped.path.name
    bumped.tokens(["防災訓練を実施"])
    assert (bumped.hits, bumped.misses) == (0, 1)  # the old dictionary's tokens are not reused

    monkeypatch.setattr(cache_mod, "sudachi_versions", lambda dictionary: versions)
    same = cache_mod.TokenCache(analyzer, tmp_path)
    same.tokens(["防災訓練を実施"])
    assert same.path == old.path and (same.hits, same.misses) == (1, 0)  # same versions: still warm


def test_analyzer_key_leaves_the_versions_out(monkeypatch):
    import train.cache as cache_mod

    before = AnalyzerSettings().key
    monkeypatch.setattr(cache_mod, "sudachi_versions", lambda dictionary: "sudachipy 9; sudachidict-core 9")
    assert AnalyzerSettings().key == before == "f9b0eb0472ab"


# -- 3. normalize_numbers = false keeps numbers (as Sudachi's normalised form) instead of dropping them

def test_normalize_numbers_false_keeps_the_numbers_themselves(analyzer):
    text = "避難所は１２３か所、百二十三人、3.5倍です。"
    assert analyzer(text) == ["避難", "<num>", "箇所", "<num>", "<num>", "倍"]  # the default: unchanged
    kept = JapaneseAnalyzer(normalize_numbers=False)(text)
    assert kept == ["避難", "123", "箇所", "123", "3.5", "倍"]  # was ['避難', '箇所', '倍']
    assert "<num>" not in kept


def test_keeping_numbers_is_a_new_analyzer_key_but_the_default_key_stays():
    assert AnalyzerSettings().key == "f9b0eb0472ab"
    # 1e0dcdc2e542 named the number-dropping tokens: caches and vectors built on them are not taken for these
    assert AnalyzerSettings(normalize_numbers=False).key not in ("1e0dcdc2e542", "1be0af9f744c", "f9b0eb0472ab")
    keys = {AnalyzerSettings(split_mode=m, stop_words=s, normalize_numbers=n).key
            for m in "ABC" for s in (True, False) for n in (True, False)}
    assert len(keys) == 12  # every combination still names its own tokens
    assert AnalyzerSettings(normalize_numbers=False).key != AnalyzerSettings().key


# -- 4. what docs/MODEL.md and the comments in train/text.py now say about the stop list

def test_the_stop_entries_that_never_matched_now_match_and_koto_is_dropped(analyzer):
    """The seventh session's documented limitation, fixed with the ninth session's rebuild of the bundled
    vectors: 言う, こと, 引き続く, 理事 and 皆 used to stay in every model's features."""
    toks = analyzer("そういうことで、引き続き理事者の皆様と皆さんに伺います。")
    assert not {"言う", "こと", "引き続く", "理事", "皆"} & set(toks)
    assert "伺う" not in toks
    assert analyzer("副委員長について") == [] and analyzer("副区長") == []  # parts dropped anyway
