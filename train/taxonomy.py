"""The topic taxonomy (``labels/topics.yaml``): the single source of topic ids."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from functools import lru_cache
from pathlib import Path

import yaml

from .errors import TaxonomyError
from .paths import default_path

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Topic:
    id: str
    ja: str
    en: str
    scope: str


@dataclasses.dataclass(frozen=True)
class Taxonomy:
    version: int
    topics: tuple[Topic, ...]
    tie_breaks: tuple[str, ...]
    sha256: str
    path: str | None = None

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.topics]

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "sha256": self.sha256,
            "topics": [dataclasses.asdict(t) for t in self.topics],
            "tie_breaks": list(self.tie_breaks),
        }


def default_taxonomy_path() -> Path:
    return default_path("labels/topics.yaml")


def parse_taxonomy(text: str, source: str = "<taxonomy>") -> Taxonomy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list) or not data["topics"]:
        raise TaxonomyError(f"{source}: expected a mapping with a non-empty 'topics' list")
    topics = []
    for i, t in enumerate(data["topics"]):
        if not isinstance(t, dict):
            raise TaxonomyError(f"{source}: topic #{i + 1}: expected a mapping, found {type(t).__name__}")
        missing = [k for k in ("id", "ja", "en", "scope") if not isinstance(t.get(k), str) or not t[k].strip()]
        if missing:
            raise TaxonomyError(f"{source}: topic #{i + 1}: missing or empty field(s) {missing}")
        if not _ID_RE.match(t["id"]):
            raise TaxonomyError(f"{source}: topic id {t['id']!r}: expected lower-case letters, digits and '_'")
        topics.append(Topic(t["id"], t["ja"], t["en"], " ".join(t["scope"].split())))
    ids = [t.id for t in topics]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise TaxonomyError(f"{source}: duplicate topic id(s) {dupes}")
    return Taxonomy(
        version=int(data.get("version", 1)),
        topics=tuple(topics),
        tie_breaks=tuple(data.get("tie_breaks") or ()),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        path=source,
    )


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> Taxonomy:
    return parse_taxonomy(Path(path).read_text(encoding="utf-8"), path)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    path = Path(path) if path else default_taxonomy_path()
    if not path.is_file():
        raise TaxonomyError(f"{path}: taxonomy file not found; expected labels/topics.yaml (pass --taxonomy)")
    return _load_cached(str(path), path.stat().st_mtime)
