"""Training configuration: one validated dataclass, defaults embedded, optional TOML file.

Example ``train.toml``::

    [analyzer]
    split_mode = "C"

    [features]
    word_ngram_max = 2
    char_ngrams = false

    [classifier]
    kind = "logreg"
    C = 8.0
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .jsonline import finite_number  # not a boolean, not inf/nan: those pass "> 0" and then break a fit
from .text import AnalyzerSettings


def _expect(cond: bool, field: str, expected: str, found: Any, fix: str | None = None) -> None:
    if not cond:
        raise ConfigError(f"{field}: expected {expected}, found {found!r}" + (f"; {fix}" if fix else ""))


#: Upper (and, where a tiny value also breaks the fit, lower) bounds of the numeric settings.  "A positive
#: number" let through values that passed validation and then broke the fit: a weight of 1e39 overflows the
#: float32 features ("Input X contains infinity"), sgd_alpha 1e300 or 1e-300 overflows SGD, C 1e-300 (and
#: C 1e300) kept liblinear running without end.  The bounds are far beyond any useful setting.
MAX_WEIGHT = 1000.0
C_RANGE = (1e-6, 1e6)
SGD_ALPHA_RANGE = (1e-10, 1.0)
THRESHOLD_RULES = ("smoothed", "best_cut")
MAX_SMOOTHING = 0.25
#: liblinear takes its iteration count as a C int and SGD as an unsigned one: 2**31 was accepted and then ended
#: the fit in an OverflowError traceback.  A million is far beyond any useful count (the default is 2000).
MAX_ITER = 1_000_000


def _in_range(x: Any, lo: float, hi: float, *, above_lo: bool = False) -> bool:
    return finite_number(x) and (x > lo if above_lo else x >= lo) and x <= hi


def _weight(x: Any, field: str, default: float) -> None:
    _expect(_in_range(x, 0, MAX_WEIGHT, above_lo=True), field, f"a positive number up to {MAX_WEIGHT:g}", x,
            f"use a value in that range (the default is {default:g}; a huge weight overflows the features)")


def _ranged(x: Any, field: str, bounds: tuple[float, float], default: float, why: str) -> None:
    _expect(_in_range(x, *bounds), field, f"a number from {bounds[0]:g} to {bounds[1]:g}", x,
            f"use a value in that range (the default is {default:g}; {why})")


def _int(x: Any) -> bool:
    """An integer that is not a boolean (TOML's ``true`` is not a count)."""
    return isinstance(x, int) and not isinstance(x, bool)


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    words: bool = True
    word_ngram_max: int = 2
    #: a count: terms in fewer training texts are dropped
    min_df: int = 2
    #: a fraction (even when written `1`): terms in more than this share of the training texts are dropped
    max_df: float = 0.5
    max_features: int | None = 200_000
    sublinear_tf: bool = True
    char_ngrams: bool = False
    char_ngram_min: int = 2
    char_ngram_max: int = 3
    #: scale of the character n-gram block beside the word features, in (0, 1000]
    char_weight: float = 0.5
    #: word vectors for the dense mean-vector block: "bundled" (learned from seeds/), a .npz path, or "none"
    vectors: str = "bundled"
    #: general-domain vectors (chiVe) concatenated per word with ``vectors``: "bundled", a .npz path, or "none"
    general_vectors: str = "bundled"
    #: scale of the mean-vector block (its rows have this L2 norm), in (0, 1000]
    vectors_weight: float = 1.0

    def __post_init__(self) -> None:
        _expect(isinstance(self.words, bool), "features.words", "true or false", self.words)
        _expect(self.words or self.char_ngrams, "features.words/char_ngrams",
                "at least one of words or char_ngrams to be true", (self.words, self.char_ngrams))
        _expect(_int(self.word_ngram_max) and 1 <= self.word_ngram_max <= 3,
                "features.word_ngram_max", "an integer from 1 to 3", self.word_ngram_max)
        _expect(_int(self.min_df) and self.min_df >= 1, "features.min_df", "an integer >= 1", self.min_df)
        _expect(finite_number(self.max_df) and 0 < self.max_df <= 1.0,
                "features.max_df", "a fraction in (0, 1] of the training texts", self.max_df)
        # TOML's `max_df = 1` is an int, which TfidfVectorizer reads as a document count (terms in at most one
        # text), not as the documented fraction 100%: store it as the fraction it stands for
        object.__setattr__(self, "max_df", float(self.max_df))
        _expect(self.max_features is None or (_int(self.max_features) and self.max_features > 0),
                "features.max_features", "a positive integer or omitted", self.max_features)
        _expect(isinstance(self.sublinear_tf, bool), "features.sublinear_tf", "true or false", self.sublinear_tf)
        _expect(isinstance(self.char_ngrams, bool), "features.char_ngrams", "true or false", self.char_ngrams)
        _expect(_int(self.char_ngram_min) and _int(self.char_ngram_max)
                and 1 <= self.char_ngram_min <= self.char_ngram_max <= 6,
                "features.char_ngram_min/char_ngram_max", "integers with 1 <= min <= max <= 6",
                (self.char_ngram_min, self.char_ngram_max))
        _weight(self.char_weight, "features.char_weight", FeatureConfig.char_weight)
        _expect(isinstance(self.vectors, str) and self.vectors.strip() != "", "features.vectors",
                "\"bundled\", \"none\" or the path of a word-vectors .npz file", self.vectors)
        _expect(self.vectors == "none" or self.words, "features.vectors",
                "\"none\" when features.words is false (vectors are weighted by the word features)", self.vectors)
        _expect(isinstance(self.general_vectors, str) and self.general_vectors.strip() != "",
                "features.general_vectors", "\"bundled\", \"none\" or the path of a vectors .npz file",
                self.general_vectors)
        _expect(self.general_vectors == "none" or self.words, "features.general_vectors",
                "\"none\" when features.words is false (vectors are weighted by the word features; set "
                "features.vectors and features.general_vectors to \"none\" for character n-grams alone)",
                self.general_vectors)
        _weight(self.vectors_weight, "features.vectors_weight", FeatureConfig.vectors_weight)

    @property
    def uses_vectors(self) -> bool:
        return self.vectors != "none" or self.general_vectors != "none"

    def __setstate__(self, state: dict) -> None:
        # configs pickled inside models saved before general vectors existed had none
        state.setdefault("general_vectors", "none")
        self.__dict__.update(state)


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    kind: str = "logreg"
    #: logreg's inverse regularisation strength, from 1e-6 to 1e6
    C: float = 8.0
    class_weight: str | None = "balanced"
    max_iter: int = 2000
    #: sgd's regularisation strength, from 1e-10 to 1
    sgd_alpha: float = 2e-5

    def __post_init__(self) -> None:
        _expect(self.kind in ("logreg", "sgd"), "classifier.kind", "'logreg' or 'sgd'", self.kind)
        _ranged(self.C, "classifier.C", C_RANGE, ClassifierConfig.C,
                "a lower C regularises more, and C far outside the range kept liblinear from finishing")
        _expect(self.class_weight in (None, "balanced", "none"), "classifier.class_weight",
                "'balanced' or 'none'", self.class_weight)
        _expect(_int(self.max_iter) and 1 <= self.max_iter <= MAX_ITER, "classifier.max_iter",
                f"an integer from 1 to {MAX_ITER:,}", self.max_iter,
                f"use a value in that range (the default is {ClassifierConfig.max_iter}; the solvers stop on their own "
                "once they converge, and take at most a 32-bit count)")
        _ranged(self.sgd_alpha, "classifier.sgd_alpha", SGD_ALPHA_RANGE, ClassifierConfig.sgd_alpha,
                "a higher alpha regularises more, and alpha far outside the range overflows SGD's steps")


@dataclasses.dataclass(frozen=True)
class ThresholdConfig:
    folds: int = 4
    min_threshold: float = 0.05
    max_threshold: float = 0.95
    default: float = 0.5
    #: "smoothed": the threshold whose F1, averaged over ``smoothing`` either side, is best
    #: (:func:`train.fitting.smoothed_thresholds`); "best_cut": the single best cut (:func:`train.fitting.best_thresholds`)
    rule: str = "smoothed"
    smoothing: float = 0.05

    def __setstate__(self, state: dict) -> None:
        # models saved before the twenty-first session tuned their thresholds by the single best cut
        state = {"rule": "best_cut", "smoothing": ThresholdConfig.smoothing, **state}
        self.__dict__.update(state)

    def __post_init__(self) -> None:
        _expect(self.rule in THRESHOLD_RULES, "thresholds.rule", " or ".join(repr(r) for r in THRESHOLD_RULES),
                self.rule)
        _expect(finite_number(self.smoothing) and 0 < self.smoothing <= MAX_SMOOTHING, "thresholds.smoothing",
                f"a number above 0 and at most {MAX_SMOOTHING:g} (the half-width, in probability, of the window of "
                "thresholds whose F1 is averaged)", self.smoothing,
                f"the default is {ThresholdConfig.smoothing:g}; set rule = \"best_cut\" for no smoothing")
        _expect(_int(self.folds) and self.folds >= 2, "thresholds.folds", "an integer >= 2", self.folds)
        _expect(finite_number(self.min_threshold) and finite_number(self.max_threshold)
                and 0 < self.min_threshold < self.max_threshold < 1, "thresholds.min_threshold/max_threshold",
                "numbers with 0 < min < max < 1", (self.min_threshold, self.max_threshold))
        _expect(finite_number(self.default) and 0 < self.default < 1, "thresholds.default", "a probability in (0, 1)",
                self.default)
        # the threshold of a topic no cut can be tuned for (no positive, or none a cut finds): outside the range,
        # `max_threshold = 0.4` still gave such topics 0.5
        _expect(self.min_threshold <= self.default <= self.max_threshold, "thresholds.default",
                f"a probability from min_threshold to max_threshold ({self.min_threshold:g} to {self.max_threshold:g})",
                self.default, "set thresholds.default inside the range too (it is the threshold of a topic whose "
                "threshold cannot be tuned)")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    analyzer: AnalyzerSettings = AnalyzerSettings()
    features: FeatureConfig = FeatureConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    thresholds: ThresholdConfig = ThresholdConfig()
    random_state: int = 0
    n_jobs: int = 1

    def __post_init__(self) -> None:
        _expect(_int(self.random_state) and 0 <= self.random_state < 2**32, "random_state",
                "an integer from 0 to 2**32 - 1", self.random_state)
        _expect(_int(self.n_jobs) and (self.n_jobs >= 1 or self.n_jobs == -1), "n_jobs",
                "a positive integer or -1", self.n_jobs)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "TrainConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a table of settings, found {type(data).__name__}")
        sections = {"analyzer": AnalyzerSettings, "features": FeatureConfig, "classifier": ClassifierConfig,
                    "thresholds": ThresholdConfig}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in sections:
                section_cls = sections[key]
                if not isinstance(value, dict):
                    raise ConfigError(f"{source}: [{key}] must be a table, found {value!r}")
                known = {f.name for f in dataclasses.fields(section_cls)}
                unknown = sorted(set(value) - known)
                if unknown:
                    raise ConfigError(
                        f"{source}: unknown setting(s) {', '.join(key + '.' + u for u in unknown)}; "
                        f"expected some of {', '.join(sorted(known))}"
                    )
                kwargs[key] = section_cls(**value)
            elif key in ("random_state", "n_jobs"):
                kwargs[key] = value
            else:
                raise ConfigError(
                    f"{source}: unknown setting {key!r}; expected one of "
                    f"{', '.join(list(sections) + ['random_state', 'n_jobs'])}"
                )
        return cls(**kwargs)

    def replace(self, **changes: dict) -> "TrainConfig":
        """A copy with some sections' fields changed: ``cfg.replace(features={"char_ngrams": True})``."""
        data = self.to_dict()
        for section, values in changes.items():
            if isinstance(values, dict):
                data[section].update(values)
            else:
                data[section] = values
        return TrainConfig.from_dict(data)


def load_config(path: str | Path | None) -> TrainConfig:
    """The embedded defaults, or the defaults overridden by a TOML file."""
    if path is None:
        return TrainConfig()
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected a TOML file")
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        return TrainConfig.from_dict(data, str(path))
    except TypeError as exc:  # pragma: no cover - defensive
        raise ConfigError(f"{path}: {exc}") from None
