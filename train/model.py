"""The topic model: TF-IDF over Sudachi tokens (+ the TF-IDF-weighted mean of word
vectors learned from the unlabeled corpus, + optional character n-grams) →
one-vs-rest linear classifiers with probabilities → per-topic thresholds.

Thresholds are tuned on out-of-fold probabilities of the *training* data
(internal cross-validation) to maximise each topic's F1, and are applied to
the probabilities explicitly: ``OneVsRestClassifier.predict`` would ignore
them.

Saved models refer to this module's import path (``train.model``): keep it.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from threadpoolctl import threadpool_limits

from .config import TrainConfig
from .errors import ConfigError, GikaiError
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


def _fit_classifier(config: TrainConfig, X, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit one binary linear classifier per topic; return (W: features x topics, b: topics)."""
    cc = config.classifier
    class_weight = None if cc.class_weight in (None, "none") else cc.class_weight
    if cc.kind == "logreg":
        base = LogisticRegression(C=cc.C, solver="liblinear", class_weight=class_weight, max_iter=cc.max_iter,
                                  random_state=config.random_state)
    else:
        base = SGDClassifier(loss="log_loss", alpha=cc.sgd_alpha, class_weight=class_weight, max_iter=cc.max_iter,
                             tol=1e-4, random_state=config.random_state)
    n_features, n_topics = X.shape[1], Y.shape[1]
    W = np.zeros((n_features, n_topics), dtype=np.float64)
    b = np.zeros(n_topics, dtype=np.float64)
    # liblinear calls BLAS; with OpenBLAS's default threads the fits ran ~100x slower whenever another
    # process kept the cores busy (measured in bench/). One BLAS thread per fit: parallelism is ours.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # "Label not N is present in all training examples"
        ovr = OneVsRestClassifier(base).fit(X, Y)  # n_jobs runs whole fits side by side (TopicClassifier.fit)
    for j, est in enumerate(ovr.estimators_):
        if hasattr(est, "coef_"):
            W[:, j] = np.asarray(est.coef_).ravel()
            b[j] = float(np.asarray(est.intercept_).ravel()[0])
        else:  # a topic with only one class in the training data: constant prediction
            p = float(np.clip(Y[:, j].mean(), 1e-6, 1 - 1e-6))
            b[j] = np.log(p / (1 - p))
    return W, b


def workers_for(n_jobs) -> int:
    """Processes for ``n_jobs`` (-1: one per CPU this process may use)."""
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, (int, np.integer)) or (n_jobs < 1 and n_jobs != -1):
        raise ConfigError(f"n_jobs (--jobs): expected a positive integer or -1 (one process per core), found {n_jobs!r}")
    from joblib import cpu_count  # respects CPU affinity and container quotas, as evaluate's -1 does

    return max(1, cpu_count()) if n_jobs == -1 else int(n_jobs)


def _fit_run(model: "TopicClassifier", tokens, texts, Y, vectors, tr, te):
    """One fit of the threshold CV (train on ``tr``, return probabilities of ``te``), or with ``tr`` None the
    final fit on everything (returns the fitted parts)."""
    if tr is None:
        return model._fit_once(tokens, texts, Y, vectors)
    word, char, proj, W, b = model._fit_once([tokens[i] for i in tr], [texts[i] for i in tr], Y[tr], vectors)
    return model._probs(word, char, proj, W, b, [tokens[i] for i in te], [texts[i] for i in te])


def _fit_run_caught(index: int, *args):
    """:func:`_fit_run` in a worker process, tagged with its index.  Our own errors come back as values, so that
    the parent raises the one the sequential order would have met first, whichever process finished first."""
    try:
        return index, _fit_run(*args)
    except GikaiError as exc:
        return index, exc
    except MemoryError:
        return index, ConfigError("n_jobs (--jobs): a fit process ran out of memory (each process holds the "
                                  "features of the labels); use --jobs 1")


def _parallel_fits(model: "TopicClassifier", tokens, texts, Y, vectors, folds, workers: int):
    """The final fit and every threshold fold in ``workers`` processes: (final parts, [fold probabilities]).

    An error is raised as soon as it is the first the sequential fit would have met (the folds in order, then
    the final fit), without waiting for the other runs, which are then cancelled."""
    from joblib import Parallel, delayed
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    tasks = [delayed(_fit_run_caught)(0, model, tokens, texts, Y, vectors, None, None)]  # the longest run first
    tasks += [delayed(_fit_run_caught)(k, model, tokens, texts, Y, vectors, tr, te)
              for k, (tr, te) in enumerate(folds, start=1)]
    sequential = list(range(1, len(folds) + 1)) + [0]
    got: dict[int, object] = {}
    try:
        for index, run in Parallel(n_jobs=workers, return_as="generator_unordered")(tasks):
            got[index] = run
            for k in sequential:
                if k not in got:
                    break
                if isinstance(got[k], GikaiError):
                    raise got[k]
    except TerminatedWorkerError:
        raise ConfigError(f"n_jobs (--jobs): a fit process was killed, most likely for want of memory (each of the "
                          f"{workers} processes holds the features of {len(tokens):,} texts); use --jobs 1") from None
    return got[0], [got[k] for k in range(1, len(folds) + 1)]


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


def best_thresholds(Y: np.ndarray, P: np.ndarray, lo: float, hi: float, default: float) -> np.ndarray:
    """Per column, the threshold in [lo, hi] that maximises F1 of ``P >= t`` against ``Y``: the middle of the
    best cut's gap between two scores, as far as it lies in [lo, hi] (``default`` for a column without
    positives, without a possible cut, or where no possible cut catches a positive: every cut has F1 0, so none
    is better than another, and the first of them, the gap under the highest negative, was taken by accident)."""
    out = np.full(Y.shape[1], default)
    for j in range(Y.shape[1]):
        y, p = Y[:, j].astype(bool), P[:, j]
        if y.sum() == 0:
            continue
        order = np.argsort(-p, kind="stable")
        ps, ys = p[order], y[order]
        tp = np.cumsum(ys)
        k = np.arange(1, len(ys) + 1)
        f1 = 2 * tp / (k + y.sum())
        # Cutting after the i-th highest score predicts exactly the top i + 1 for any threshold in
        # (nxt, ps[i]]: a cut is possible only between distinct scores, and only when that interval meets
        # [lo, hi].  A cut whose upper score lies above hi is still one (e.g. all positives above 0.95, the
        # first negative at 0.90): its threshold is then taken inside the range.
        nxt = np.r_[ps[1:], -np.inf]
        valid = (nxt < ps) & (ps >= lo) & (nxt < hi)
        if not valid.any() or f1[valid].max() <= 0:
            continue
        score = np.where(valid, f1, -1.0)
        best = score == score.max()
        # among equally good cuts the first (highest) one whose scores lie inside the range, as before cuts
        # above it were accepted: thresholds change only where such a cut is strictly better
        inside = best & (ps <= hi)
        i = int(np.argmax(inside if inside.any() else best))
        low, high = max(nxt[i], lo), min(ps[i], hi)
        out[j] = float(np.clip((low + high) / 2, lo, hi))
    return out


def configured_vectors(config: TrainConfig, given=None):
    """The word vectors a fit with ``config`` uses, or None when the config turns them off: the own vectors
    (``given`` replaces the file named by ``features.vectors``) concatenated per word with the general-domain
    ones (``features.general_vectors``), each checked against the analyzer.  Raises :class:`ConfigError` for a
    missing, wrong-kind or wrong-analyzer file, so callers can run it before any slow step (files are cached)."""
    fc = config.features
    if not fc.uses_vectors:
        return None
    from .vectors import concat_vectors, load_vectors

    own = None if fc.vectors == "none" else given if given is not None else load_vectors(fc.vectors)
    general = None if fc.general_vectors == "none" else load_vectors(fc.general_vectors, general=True)
    wrong = [(option, table) for option, table in (("features.vectors", own), ("features.general_vectors", general))
             if table is not None and table.analyzer_key != config.analyzer.key]
    if wrong:
        build = ("`gikai-topics vectors build --config CONFIG.toml --out own.npz [CORPUS...]` (CONFIG.toml: this "
                 "config file)")
        general_build = "`gikai-topics vectors general WHEEL --vocabulary own.npz --out general.npz`"
        if len(wrong) == 2:  # the default config names both bundled files: both need rebuilding
            fix = (f"rebuild both with this analyzer: {build}, then {general_build}, and set features.vectors = "
                   "\"own.npz\" and features.general_vectors = \"general.npz\"; or set both to \"none\"")
        elif wrong[0][0] == "features.vectors":
            fix = (f"rebuild them with this analyzer: {build}, and set features.vectors = \"own.npz\"; or set "
                   "features.vectors = \"none\"")
        else:
            fix = (f"set features.general_vectors = \"none\", or rebuild them from own vectors of this analyzer: "
                   f"{build}, then {general_build}, and set features.general_vectors = \"general.npz\"")
        keys = {option: f"key {table.analyzer_key or '?'} ({table.meta.get('analyzer')})" for option, table in wrong}
        found = (f"vectors built with {next(iter(keys.values()))}" if len(set(keys.values())) == 1 else
                 "; ".join(f"{option} built with {key}" for option, key in keys.items()))
        raise ConfigError(f"{' and '.join(option for option, _ in wrong)}: expected vectors built with this "
                          f"config's analyzer settings (key {config.analyzer.key}), found {found}; {fix}")
    return concat_vectors(own, general)


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
    def _fit_once(self, tokens, texts, Y, vectors):
        word, char = self._new_vectorizers()
        try:
            X, projection = self._features(word, char, None, tokens, texts, fit=True, vectors=vectors)
        except ValueError as exc:  # sklearn: "max_df corresponds to < documents than min_df", "empty vocabulary"
            if "_df" not in str(exc) and "vocabulary" not in str(exc):
                raise
            raise ConfigError(f"features: {exc} (with {len(tokens):,} training texts); lower features.min_df or "
                              "raise features.max_df") from None
        W, b = _fit_classifier(self.config, X, Y)
        return word, char, projection, W, b

    def _probs(self, word, char, projection, W, b, tokens, texts) -> np.ndarray:
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
            final, runs = _parallel_fits(self, tokens, texts, Y, vectors, folds, workers)
            for (_, te), probs in zip(folds, runs):
                oof[te] = probs
        else:
            for k, (tr, te) in enumerate(folds):
                if progress:
                    progress(f"threshold fold {k + 1}/{len(folds)}")
                oof[te] = _fit_run(self, tokens, texts, Y, vectors, tr, te)
            if progress:
                progress("final fit")
            final = self._fit_once(tokens, texts, Y, vectors)
        self.thresholds = best_thresholds(Y, oof, tc.min_threshold, tc.max_threshold, tc.default)
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
        """The word vectors this fit uses (None when the config turns them off); see :func:`configured_vectors`."""
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
