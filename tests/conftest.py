"""Shared fixtures.  Every test gets its own BENTOML_HOME and no token cache on disk."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]


def write_jsonl(path: Path, rows) -> Path:
    """``rows`` as UTF-8 JSON lines (the labels' and the corpus's format)."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def fixture_label_rows() -> list[dict]:
    """The fixture labels as dictionaries, to edit into variants."""
    return [json.loads(line) for line in (FIXTURES / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


def jsonl_rows(path: Path) -> list[dict]:
    """The JSON lines of a file (a label file written by the code under test), as dictionaries."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def jsonl_ids(path: Path) -> list[str]:
    return [r["id"] for r in jsonl_rows(path)]


@pytest.fixture
def empty_dir(tmp_path) -> Path:
    """An empty labels folder: nothing labeled yet."""
    d = tmp_path / "empty"
    d.mkdir()
    return d


def label_session(out, keys, labels_dir, **kw):
    """A terminal labeling session over the fixture corpus sample, ``keys`` typed (a string or a stream);
    returns its result and what it showed on screen."""
    import io

    from train.labeling.session import run_label_session

    screen = io.StringIO()
    res = run_label_session([FIXTURES / "corpus_sample.jsonl"], out, model="none", labels_dir=labels_dir,
                            annotator="tester", stdin=keys if not isinstance(keys, str) else io.StringIO(keys),
                            stdout=screen, **kw)
    return res, screen.getvalue()


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory, monkeypatch):
    """A fresh BENTOML_HOME per test.  BentoML resolves its stores once per process, so the
    in-process stores are pointed at the new home too (and restored afterwards)."""
    from bentoml._internal.bento import BentoStore
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.models import ModelStore

    home = tmp_path_factory.mktemp("bentoml_home")
    monkeypatch.setenv("BENTOML_HOME", str(home))
    monkeypatch.setenv("GIKAI_TOPICS_CACHE", "off")
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "true")
    (home / "models").mkdir()
    (home / "bentos").mkdir()
    providers = {BentoMLContainer.bentoml_home: str(home),
                 BentoMLContainer.model_store: ModelStore(str(home / "models")),
                 BentoMLContainer.bento_store: BentoStore(str(home / "bentos"))}
    for provider, value in providers.items():
        provider.set(value)
    yield home
    for provider in providers:
        provider.reset()


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def corpus(fixtures, tmp_path) -> Path:
    """A corpus folder: the JSONL sample and the seed-format sample."""
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a.jsonl").write_bytes((fixtures / "corpus_sample.jsonl").read_bytes())
    (d / "seed.txt").write_bytes((fixtures / "seed_sample.txt").read_bytes())
    return d


@pytest.fixture
def labels_dir(tmp_path) -> Path:
    d = tmp_path / "labels"
    d.mkdir()
    shutil.copy(FIXTURES / "labels.jsonl", d / "labels.jsonl")
    return d


def small_config():
    from train.config import TrainConfig

    return TrainConfig().replace(thresholds={"folds": 2}, features={"min_df": 1})


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory) -> Path:
    """A model trained once on the fixture labels and exported to a directory."""
    from train.training import train

    old = {k: os.environ.get(k) for k in ("BENTOML_HOME", "GIKAI_TOPICS_CACHE")}
    os.environ["BENTOML_HOME"] = str(tmp_path_factory.mktemp("session_bentoml"))
    os.environ["GIKAI_TOPICS_CACHE"] = "off"
    try:
        out = tmp_path_factory.mktemp("model") / "m"
        train(FIXTURES / "labels.jsonl", small_config(), out=out, to_store=False)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def asgi_client(trained_model_dir):
    """The service as an in-process ASGI app (Starlette TestClient), shared by every test module.

    Session-scoped because only ONE BentoML ASGI app can be built per process: BentoML registers its
    Prometheus metrics globally, and a second app fails with "Duplicated timeseries".
    """
    import importlib

    from starlette.testclient import TestClient

    old = os.environ.get("GIKAI_TOPICS_MODEL")
    os.environ["GIKAI_TOPICS_MODEL"] = str(trained_model_dir)
    import serve.service

    mod = importlib.reload(serve.service)
    try:
        with TestClient(app=mod.TopicTagger.to_asgi()) as client:
            yield client
    finally:
        if old is None:
            os.environ.pop("GIKAI_TOPICS_MODEL", None)
        else:
            os.environ["GIKAI_TOPICS_MODEL"] = old


#: real labels (round 17) that are not in the fixture: a saved model trained on the fixture never saw them
HELD_BACK = [
    {"id": "shinagawa:r05-20231002-4:0388", "municipality": "品川区", "date": "2023-10-02",
     "text": "こちらに収入未済で記載されております金額につきましては、全額、すまいるスクールの利用料という形になっております。",
     "topics": ["childcare", "finance"]},
    {"id": "shinagawa:r04-20220308-3:0301", "municipality": "品川区", "date": "2022-03-08",
     "text": "来年度の品川介護福祉専門学校の入学予定者数でございますが、現時点で１４名というふうに聞いております。",
     "topics": ["welfare"]},
    {"id": "shinagawa:r05-20230926-9:0024", "municipality": "品川区", "date": "2023-09-26",
     "text": "１点だけ、メンバーですけれども、おおよそでいいので、どのくらいの平均年齢なのかを教えていただきたいと思います。",
     "topics": []},
]
