"""The topic model: TF-IDF over Sudachi tokens (+ the TF-IDF-weighted mean of word
vectors learned from the unlabeled corpus, + optional character n-grams) →
one-vs-rest linear classifiers with probabilities → per-topic thresholds.

Thresholds are tuned on out-of-fold probabilities of the *training* data
(internal cross-validation) to maximise each topic's F1, and are applied to
the probabilities explicitly: ``OneVsRestClassifier.predict`` would ignore
them.

Saved models refer to this module's import path (``train.model``): keep it, for
:class:`TopicClassifier` and :class:`TokenNgrams` (a fitted model's word vectorizer holds one), and
keep :func:`train.text.char_normalize` where it is (the character vectorizer's preprocessor).  The
fitting machinery (classifiers, threshold tuning and folds in processes, the configured word vectors)
is in :mod:`train.fitting`, which no saved model names.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from .config import TrainConfig
from .errors import ConfigError
from .fitting import configured_vectors, fit_classifier, fit_run, parallel_fits, tuned_thresholds, workers_for
from .folds import stratified_group_folds
from .text import JapaneseAnalyzer, char_normalize

Tokens = Sequence[str]
#: feature-name prefix of the mean-word-vector dimensions
VECTOR_PREFIX = "vec:"


class TokenNgrams:
    """Analyzer for pre-tokenized input: unigrams up to ``n``-grams of tokens.

    A class (not a closure) so that fitted vectorizers pickle.
    """

    def __init__(self, n: int = 1) -> None:
        self.n = n

    def __call__(self, tokens: Tokens) -> list[str]:
        if self.n == 1:
            return list(tokens)
        out = list(tokens)
        for k in range(2, self.n + 1):
            out.extend(" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1))
        return out


def mean_vector_block(Xw, projection, weight: float):
    """Rows of ``Xw`` (TF-IDF over the word vocabulary) mapped to the weighted mean of their words'
    vectors, L2-normalised and scaled by ``weight``; returned sparse so it stacks with TF-IDF."""
    D = np.asarray((Xw @ projection).todense(), dtype=np.float32)
    norms = np.linalg.norm(D, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return sp.csr_matrix(D * (weight / norms))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # numerically safe logistic


def _linear_probs(X, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-topic probabilities of the stacked one-vs-rest logistic models."""
    return _sigmoid(np.asarray(X @ W) + b)


class TopicClassifier:
    """Vectorizers + stacked linear weights + thresholds; fit on token lists (and raw texts
    when character n-grams are on)."""

    def __init__(self, config: TrainConfig, topic_ids: list[str]) -> None:
        self.config = config
        self.topic_ids = list(topic_ids)
        self.analyzer = JapaneseAnalyzer(config.analyzer)
        self.word_vectorizer: TfidfVectorizer | None = None
        self.char_vectorizer: TfidfVectorizer | None = None
        #: rows of the word vectors for the word vocabulary (sparse, n_word_features x dim), or None
        self.vector_projection = None
        self.vectors_info: dict | None = None
        self.W: np.ndarray | None = None
        self.b: np.ndarray | None = None
        self.thresholds: np.ndarray | None = None
        #: out-of-fold F1 per topic at the tuned thresholds; None for a topic without positives (undefined)
        self.oof_f1: dict[str, float | None] = {}
        self._feature_names: np.ndarray | None = None
        #: near-duplicate group keys of the training labels, as sorted uint64 (set by train.training.fit_labels),
        #: so that evaluating on a test file can leave out what the model was trained on
        self.training_groups: np.ndarray | None = None

    # ---------------------------------------------------------------- features
    def _new_vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer | None]:
        fc = self.config.features
        word = None if not fc.words else TfidfVectorizer(analyzer=TokenNgrams(fc.word_ngram_max), min_df=fc.min_df, max_df=fc.max_df,
                               max_features=fc.max_features, sublinear_tf=fc.sublinear_tf, lowercase=False,
                               dtype=np.float32)
        char = None
        if fc.char_ngrams:
            char = TfidfVectorizer(analyzer="char", ngram_range=(fc.char_ngram_min, fc.char_ngram_max),
                                   preprocessor=char_normalize, min_df=fc.min_df, max_df=fc.max_df,
                                   max_features=fc.max_features, sublinear_tf=fc.sublinear_tf, dtype=np.float32)
        return word, char

    def _features(self, word, char, projection, tokens, texts, *, fit: bool = False, vectors=None):
        """Feature rows: [word TF-IDF | mean word vector | char TF-IDF], the blocks the config turns on.

        With ``fit`` the vectorizers are fitted here and, given ``vectors`` (a
        :class:`train.vectors.WordVectors`), the projection for their vocabulary is built.
        Returns ``(X, projection)``."""
        fc = self.config.features
        parts = []
        if word is not None:
            Xw = word.fit_transform(tokens) if fit else word.transform(tokens)
            parts.append(Xw)
            if fit and vectors is not None:
                projection = vectors.rows_for(word.get_feature_names_out())
            if projection is not None:
                parts.append(mean_vector_block(Xw, projection, fc.vectors_weight))
        if char is not None:
            Xc = char.fit_transform(texts) if fit else char.transform(texts)
            parts.append(Xc * fc.char_weight if word is not None else Xc)
        X = parts[0].tocsr() if len(parts) == 1 else sp.hstack(parts, format="csr")
        return X, projection

    def transform(self, tokens: Sequence[Tokens], texts: Sequence[str] | None = None):
        if self.char_vectorizer is not None and texts is None:
            raise ValueError("this model uses character n-grams: pass the raw texts too")
        return self._features(self.word_vectorizer, self.char_vectorizer, self.vector_projection, tokens, texts)[0]

    # ---------------------------------------------------------------- fitting
    def fit_once(self, tokens, texts, Y, vectors):
        """One fit on these examples: the fitted parts ``(word, char, projection, W, b)``, not set on the model
        (each threshold fold's fit and the final one; :func:`train.fitting.fit_run` runs them)."""
        word, char = self._new_vectorizers()
        try:
            X, projection = self._features(word, char, None, tokens, texts, fit=True, vectors=vectors)
        except ValueError as exc:  # sklearn: "max_df corresponds to < documents than min_df", "empty vocabulary"
            if "_df" not in str(exc) and "vocabulary" not in str(exc):
                raise
            raise ConfigError(f"features: {exc} (with {len(tokens):,} training texts); lower features.min_df or "
                              "raise features.max_df") from None
        W, b = fit_classifier(self.config, X, Y)
        return word, char, projection, W, b

    def probs_with(self, word, char, projection, W, b, tokens, texts) -> np.ndarray:
        """Probabilities of these examples under the parts :meth:`fit_once` returned."""
        return _linear_probs(self._features(word, char, projection, tokens, texts)[0], W, b)

    def fit(
        self,
        tokens: Sequence[Tokens],
        Y: np.ndarray,
        *,
        texts: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
        progress: Callable[[str], None] | None = None,
        vectors=None,
        n_jobs: int | None = None,
    ) -> "TopicClassifier":
        """Tune thresholds by internal CV on these examples, then fit on all of them.

        ``vectors`` (a :class:`train.vectors.WordVectors`) overrides the file named by
        ``features.vectors`` (evaluation passes vectors that never saw a held-out assembly).  ``n_jobs``
        (default: the config's) runs the threshold folds and the final fit in that many processes (-1: one per
        core); the fitted model is the same whatever it is.  ``groups`` (near-duplicate keys) keeps each group
        inside one threshold fold; without them, the raw texts' keys (:func:`train.corpus.group_key`), so that a
        repeated utterance is never on both sides of a fold; without texts either, each token list is its own group."""
        Y = np.asarray(Y)
        if len(tokens) != Y.shape[0]:
            raise ValueError("tokens and labels differ in length")
        if groups is not None and len(groups) != len(tokens):
            raise ValueError("tokens and groups differ in length")
        if groups is None and texts is not None:  # a repeated text on both sides of a fold tunes thresholds on itself
            from .corpus import group_key  # here, not at the top: serving imports this module without train.corpus

            groups = [group_key(t) for t in texts]
        if self.config.features.char_ngrams and texts is None:
            raise ValueError("character n-grams are on: pass the raw texts too")
        texts = list(texts) if texts is not None else [""] * len(tokens)
        vectors = self._vectors(vectors)
        tc = self.config.thresholds
        groups = list(groups) if groups is not None else [str(i) for i in range(len(tokens))]
        oof = np.zeros(Y.shape, dtype=np.float64)
        folds = stratified_group_folds(Y, groups, tc.folds, seed=self.config.random_state)
        workers = min(workers_for(self.config.n_jobs if n_jobs is None else n_jobs), len(folds) + 1)
        if workers > 1:  # the threshold folds and the final fit are independent: run them side by side
            if progress:
                progress(f"{len(folds)} threshold folds and the final fit on {workers} processes")
            final, runs = parallel_fits(self, tokens, texts, Y, vectors, folds, workers)
            for (_, te), probs in zip(folds, runs):
                oof[te] = probs
        else:
            for k, (tr, te) in enumerate(folds):
                if progress:
                    progress(f"threshold fold {k + 1}/{len(folds)}")
                oof[te] = fit_run(self, tokens, texts, Y, vectors, tr, te)
            if progress:
                progress("final fit")
            final = self.fit_once(tokens, texts, Y, vectors)
        self.thresholds = tuned_thresholds(Y, oof, tc)
        pred = oof >= self.thresholds
        self.oof_f1 = {}
        for j, t in enumerate(self.topic_ids):
            if not Y[:, j].any():  # no positive to find: F1 is undefined, not 0 (as evaluate and agreement say)
                self.oof_f1[t] = None
                continue
            tp = float((pred[:, j] & (Y[:, j] == 1)).sum())
            self.oof_f1[t] = 2 * tp / float(pred[:, j].sum() + Y[:, j].sum())
        self.word_vectorizer, self.char_vectorizer, self.vector_projection, self.W, self.b = final
        self._feature_names = None
        return self

    def _vectors(self, given):
        """The word vectors this fit uses (None when the config turns them off); see :func:`train.fitting.configured_vectors`."""
        vectors = configured_vectors(self.config, given)
        if vectors is None:
            self.vectors_info = None
            return None
        self.vectors_info = {k: vectors.meta.get(k) for k in ("sha256", "corpus_sha256", "utterances", "tokens",
                                                               "excluded_assemblies", "settings", "general")}
        self.vectors_info["words"] = len(vectors.words)
        return vectors

    # ---------------------------------------------------------------- inference
    @property
    def oof_macro_f1(self) -> float | None:
        """Mean of :attr:`oof_f1` over the topics with positives (a topic without any has no F1, not 0); None when
        no topic has one."""
        defined = [v for v in self.oof_f1.values() if v is not None]
        return sum(defined) / len(defined) if defined else None

    @property
    def fitted(self) -> bool:
        return self.W is not None

    def scores(self, X) -> np.ndarray:
        """Probabilities for feature rows already produced by :meth:`transform`."""
        return _linear_probs(X, self.W, self.b)

    def predict_proba_tokens(self, tokens: Sequence[Tokens], texts: Sequence[str] | None = None) -> np.ndarray:
        return self.scores(self.transform(tokens, texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        tokens = [self.analyzer(t) for t in texts]
        return self.predict_proba_tokens(tokens, texts)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        return probs >= self.thresholds

    @property
    def feature_names(self) -> np.ndarray:
        if self._feature_names is None:
            names = list(self.word_vectorizer.get_feature_names_out()) if self.word_vectorizer is not None else []
            if self.vector_projection is not None:
                names += [f"{VECTOR_PREFIX}{k}" for k in range(self.vector_projection.shape[1])]
            if self.char_vectorizer is not None:
                names += [f"c:{n}" for n in self.char_vectorizer.get_feature_names_out()]
            self._feature_names = np.asarray(names, dtype=object)
        return self._feature_names

    def explain_rows(self, X, topic_indices: Sequence[int], k: int) -> list[dict[str, list[tuple[str, float]]]]:
        """For each row of ``X``, the ``k`` features contributing most to each given topic's score."""
        X = sp.csr_matrix(X)
        names = self.feature_names
        lo = len(self.word_vectorizer.vocabulary_) if self.word_vectorizer is not None else 0
        hi = lo + (self.vector_projection.shape[1] if self.vector_projection is not None else 0)
        out = []
        for r in range(X.shape[0]):
            row = X.getrow(r)
            idx, vals = row.indices, row.data
            is_vector = (idx >= lo) & (idx < hi)
            per_topic = {}
            for j in topic_indices:
                contrib = vals * self.W[idx, j]
                contrib[is_vector] = 0.0  # vector dimensions mean nothing to a reader: explain by terms
                order = np.argsort(-contrib)[:k]
                per_topic[self.topic_ids[j]] = [(str(names[idx[i]]), round(float(contrib[i]), 4))
                                                for i in order if contrib[i] > 0]
            out.append(per_topic)
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_feature_names"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("vector_projection", None)  # models saved before word vectors existed
        state.setdefault("vectors_info", None)
        state.setdefault("training_groups", None)  # models saved before the sixth session
        self.__dict__.update(state)
