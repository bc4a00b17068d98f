"""Input review 7, serving: the settings the service starts with, and the types its API accepts.

* Finding 8: ``gikai-topics serve`` checks the GIKAI_TOPICS_* variables with the same function the service
  reads them with (``train.inference.service_settings``); an empty value means unset, for every variable.
"""

from __future__ import annotations

import importlib
import os

import pytest

from train.errors import InputError, ModelError
from train.inference import SERVICE_INTEGERS, service_settings
from train.serving import server_env

DEFAULTS = {"GIKAI_TOPICS_MAX_CHARS": 20000, "GIKAI_TOPICS_MAX_BATCH": 1000, "GIKAI_TOPICS_MAX_EXPLAIN": 50,
            "GIKAI_TOPICS_WORKERS": 1, "GIKAI_TOPICS_THREADS": 4}
FIELDS = {"GIKAI_TOPICS_MAX_CHARS": "max_chars", "GIKAI_TOPICS_MAX_BATCH": "max_batch",
          "GIKAI_TOPICS_MAX_EXPLAIN": "max_explain", "GIKAI_TOPICS_WORKERS": "workers",
          "GIKAI_TOPICS_THREADS": "threads"}


@pytest.fixture
def clean_env(monkeypatch):
    for var in [*SERVICE_INTEGERS, "GIKAI_TOPICS_MODEL"]:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def reload_service(trained_model_dir, monkeypatch):
    """Re-import serve.service under the test's environment.  Afterwards it is re-imported under the
    environment it had before, so the module the session's ASGI app reads its limits from is as it was."""
    import serve.service

    names = [*SERVICE_INTEGERS, "GIKAI_TOPICS_MODEL"]
    before = {var: os.environ.get(var) for var in names}

    def reload():
        monkeypatch.setenv("GIKAI_TOPICS_MODEL", str(trained_model_dir))
        return importlib.reload(serve.service)

    yield reload
    for var, value in before.items():  # monkeypatch restores these again after this
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    os.environ["GIKAI_TOPICS_MODEL"] = str(trained_model_dir)
    importlib.reload(serve.service)


def test_defaults_are_the_documented_ones():
    settings = service_settings({})
    assert {var: getattr(settings, f) for var, f in FIELDS.items()} == DEFAULTS
    assert settings.model == "gikai-topics:latest"


@pytest.mark.parametrize("var", list(SERVICE_INTEGERS))
def test_an_empty_value_means_unset(var):
    assert getattr(service_settings({var: ""}), FIELDS[var]) == DEFAULTS[var]


def test_an_empty_model_means_the_default_tag_not_the_current_folder():
    assert service_settings({"GIKAI_TOPICS_MODEL": ""}).model == "gikai-topics:latest"


@pytest.mark.parametrize("var", list(SERVICE_INTEGERS))
@pytest.mark.parametrize("raw", ["abc", "3.5", " ", "-1", "1e3"])
def test_a_bad_value_is_refused_naming_the_variable_and_the_fix(var, raw):
    low = SERVICE_INTEGERS[var][1]
    if raw == "-1":
        expected = f"{var}: expected an integer >= {low}, found {raw!r}"
    else:
        expected = f"{var}: expected an integer, found {raw!r}"
    with pytest.raises(InputError) as info:
        service_settings({var: raw})
    assert str(info.value).startswith(expected)
    assert "or unset it for the default" in str(info.value)


@pytest.mark.parametrize("var", ["GIKAI_TOPICS_MAX_CHARS", "GIKAI_TOPICS_MAX_BATCH", "GIKAI_TOPICS_WORKERS",
                                 "GIKAI_TOPICS_THREADS"])
def test_zero_is_refused_where_the_lowest_is_one(var):
    with pytest.raises(InputError, match=f"{var}: expected an integer >= 1, found '0'"):
        service_settings({var: "0"})


def test_zero_explain_terms_is_a_valid_limit():
    assert service_settings({"GIKAI_TOPICS_MAX_EXPLAIN": "0"}).max_explain == 0


@pytest.mark.parametrize("var", list(SERVICE_INTEGERS))
def test_serve_checks_what_the_service_uses(var, trained_model_dir, clean_env):
    """The finding: GIKAI_TOPICS_MAX_EXPLAIN="" passed `gikai-topics serve`'s check, then the service ran
    int("") at import and did not start.  Whatever server_env accepts, the service reads the same way."""
    for raw in ["", "7", " 7 "]:
        clean_env.setenv(var, raw)
        env = server_env(str(trained_model_dir), None, None)
        expected = DEFAULTS[var] if raw == "" else 7
        assert getattr(service_settings(env), FIELDS[var]) == expected, (var, raw)
    clean_env.setenv(var, "abc")
    with pytest.raises(InputError, match=f"{var}: expected an integer, found 'abc'"):
        server_env(str(trained_model_dir), None, None)


def test_the_service_starts_with_empty_settings(reload_service, clean_env):
    for var in SERVICE_INTEGERS:
        clean_env.setenv(var, "")
    mod = reload_service()
    assert (mod.MAX_CHARS, mod.MAX_BATCH, mod.MAX_EXPLAIN, mod.WORKERS, mod.THREADS) == (20000, 1000, 50, 1, 4)
    svc = mod.TopicTagger()
    assert svc.topics_info()["limits"] == {"max_chars": 20000, "max_batch": 1000, "max_explain": 50}


def test_the_service_uses_the_values_serve_checked(reload_service, trained_model_dir, clean_env):
    clean_env.setenv("GIKAI_TOPICS_MAX_CHARS", " 300 ")
    clean_env.setenv("GIKAI_TOPICS_MAX_EXPLAIN", "")
    env = server_env(str(trained_model_dir), None, 2)
    for var in [*SERVICE_INTEGERS, "GIKAI_TOPICS_MODEL"]:
        if var in env:
            clean_env.setenv(var, env[var])
    mod = reload_service()
    checked = service_settings(env)
    assert (mod.MAX_CHARS, mod.MAX_EXPLAIN, mod.THREADS) == (checked.max_chars, checked.max_explain, 2) == (300, 50, 2)


def test_the_service_refuses_to_import_with_a_bad_value_naming_it(reload_service, clean_env):
    clean_env.setenv("GIKAI_TOPICS_MAX_EXPLAIN", "lots")
    with pytest.raises(InputError, match="GIKAI_TOPICS_MAX_EXPLAIN: expected an integer, found 'lots'"):
        reload_service()


def test_empty_model_variable_means_the_default_tag_for_serve(clean_env):
    clean_env.setenv("GIKAI_TOPICS_MODEL", "")
    with pytest.raises(ModelError, match="model 'gikai-topics:latest' not found"):
        server_env(None, None, None)  # this test's BentoML store is empty


def test_options_still_override_the_variables(trained_model_dir, clean_env):
    clean_env.setenv("GIKAI_TOPICS_WORKERS", "abc")  # an option given wins over a variable, as before
    env = server_env(str(trained_model_dir), 3, None)
    assert env["GIKAI_TOPICS_WORKERS"] == "3" and env["GIKAI_TOPICS_THREADS"] == "4"
    with pytest.raises(InputError, match="--threads / GIKAI_TOPICS_THREADS: expected an integer >= 1, found 0"):
        server_env(str(trained_model_dir), None, 0)
