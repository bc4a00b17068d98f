"""Input review 7, serving: the settings the service starts with, and the types its API accepts.

* Finding 8: ``gikai-topics serve`` checks the GIKAI_TOPICS_* variables with the same function the service
  reads them with (``train.inference.service_settings``); an empty value means unset, for every variable.
* Finding 9: /tag and /tag_batch take strict JSON types and no unknown fields: {"explain": true}, "3" and
  2.0 used to be converted and answered 200, and a misspelt optional field ("explian") was ignored.
  Tested at the three levels: a direct call, the ASGI app, and a real `bentoml serve` (slow).
"""

from __future__ import annotations

import importlib
import json
import os

import httpx
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
    assert svc.topics_info()["limits"] == {"max_chars": 20000, "max_batch": 1000, "max_explain": 50,
                                           "max_body_bytes": 240_020_096}


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


# ---- finding 9: strict request bodies -------------------------------------------------------------------

TEXT = "避難所の備蓄について伺います。"
WRONG_EXPLAINS = [(True, "true"), (False, "false"), ("3", 'the string "3"'), (2.0, "2.0"), (3.5, "3.5"),
                  (None, "null"), ([3], "a list of 1 item"), ({"n": 3}, "an object")]


def explain_error(found: str) -> str:
    return f"explain: expected an integer from 0 to 50, found {found}"


@pytest.mark.parametrize("path", ["/tag", "/tag_batch"])
@pytest.mark.parametrize("explain,found", WRONG_EXPLAINS)
def test_explain_of_the_wrong_type_is_a_400_not_converted(asgi_client, path, explain, found):
    body = {"text": TEXT} if path == "/tag" else {"texts": [TEXT]}
    r = asgi_client.post(path, json={**body, "explain": explain})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == explain_error(found)


@pytest.mark.parametrize("path,body,field", [
    ("/tag", {"text": TEXT, "explian": 3}, "explian"),
    ("/tag", {"text": TEXT, "texts": [TEXT]}, "texts"),
    ("/tag", {"text": TEXT, "Explain": 0}, "Explain"),
    ("/tag_batch", {"texts": [TEXT], "explian": 3}, "explian"),
    ("/tag_batch", {"texts": [TEXT], "text": TEXT}, "text"),
])
def test_an_unknown_field_is_a_400_naming_it_and_the_fields_taken(asgi_client, path, body, field):
    r = asgi_client.post(path, json=body)
    assert r.status_code == 400, r.text
    takes = "text, explain" if path == "/tag" else "texts, explain"
    assert r.json()["error"] == (f"{field}: unknown field; this endpoint takes only {takes}: "
                                 "check the spelling, or remove it")


@pytest.mark.parametrize("path,body,error", [
    ("/tag", {"text": 42}, "text: expected a string, found 42"),
    ("/tag", {"text": None}, "text: expected a string, found null"),
    ("/tag", {"text": ["a"]}, "text: expected a string, found a list of 1 item"),
    ("/tag", {"explain": 3}, "text: required, but missing from the request body"),
    ("/tag_batch", {"texts": "防災"}, 'texts: expected a list of strings, found the string "防災"'),
    ("/tag_batch", {"texts": [TEXT, 3]}, "texts.1: expected a string, found 3"),
    ("/tag_batch", {"texts": [TEXT, False]}, "texts.1: expected a string, found false"),
    ("/tag_batch", {}, "texts: required, but missing from the request body"),
])
def test_wrong_types_say_what_was_expected_and_found(asgi_client, path, body, error):
    r = asgi_client.post(path, json=body)
    assert r.status_code == 400 and r.json()["error"] == error, r.text


def test_several_problems_are_all_named(asgi_client):
    r = asgi_client.post("/tag", json={"txt": TEXT, "explain": "2"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error.startswith("text: required") and "explain: expected an integer" in error and "txt: unknown field" in error


def test_unknown_field_names_are_echoed_safely(asgi_client):
    """Field names come back in the error: odd ones must not turn the 400 into a 500."""
    for raw in [b'{"text": "x", "\\ud83d\\ude00": 1}', '{"text": "x", "キー": 1}'.encode(),
                b'{"text": "x", "\\ud800": 1}', b'{"text": "x", "\xff": 1}', b'{"text": "x", "{a}": 1}',
                b'{"text": "x", "' + b"k" * 5000 + b'": 1}']:
        r = asgi_client.post("/tag", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, (raw[:60], r.status_code, r.text[:200])
        assert isinstance(r.json()["error"], str) and isinstance(r.json()["detail"], str)
    r = asgi_client.post("/tag", content='{"text": "x", "キー": 1}'.encode(), headers={"content-type": "application/json"})
    assert r.json()["error"].startswith("キー: unknown field")


@pytest.mark.parametrize("explain", [0, 1, 50])
def test_documented_requests_still_answer_200(asgi_client, explain):
    r = asgi_client.post("/tag", json={"text": TEXT, "explain": explain})
    assert r.status_code == 200 and ("terms" in r.json()) == (explain > 0), r.text
    r = asgi_client.post("/tag_batch", json={"texts": [TEXT, "学校給食について"], "explain": explain})
    assert r.status_code == 200 and len(r.json()) == 2, r.text


def test_documented_request_shapes_and_content_types_still_answer_200(asgi_client):
    assert asgi_client.post("/tag", json={"text": TEXT}).status_code == 200
    assert asgi_client.post("/tag_batch", json={"texts": [TEXT]}).status_code == 200
    body = json.dumps({"text": TEXT, "explain": 3}, ensure_ascii=False).encode()
    for content_type in ["application/json", "application/json; charset=utf-8",
                         "application/x-www-form-urlencoded",  # plain `curl -d '{...}'`
                         "text/plain"]:
        r = asgi_client.post("/tag", content=body, headers={"content-type": content_type})
        assert r.status_code == 200 and "terms" in r.json(), (content_type, r.text)
    r = asgi_client.post("/tag", content=json.dumps({"text": TEXT, "explain": "3"}).encode(),
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.json()["error"] == explain_error('the string "3"')


def test_openapi_documents_the_strict_bodies(asgi_client):
    spec = asgi_client.get("/docs.json").json()
    schemas = json.dumps(spec)
    assert '"additionalProperties": false' in schemas
    for route, field in [("/tag", "text"), ("/tag_batch", "texts")]:
        body = spec["paths"][route]["post"]["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in body:
            body = spec["components"]["schemas"][body["$ref"].split("/")[-1]]
        assert body["additionalProperties"] is False and set(body["required"]) == {field}
        assert body["properties"]["explain"]["type"] == "integer"


def test_openapi_documents_the_answers(asgi_client):
    """The 200 answers have a schema (they were "any object"): what each field holds, for client generators."""
    spec = asgi_client.get("/docs.json").json()
    for route in ("/tag", "/tag_batch"):
        schema = spec["paths"][route]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        if route == "/tag_batch":
            assert schema["type"] == "array"
            schema = schema["items"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
        assert set(schema["required"]) == {"topics", "scores", "model"}
        assert set(schema["properties"]) == {"topics", "scores", "terms", "model"}
        assert all(p.get("description") for p in schema["properties"].values())


def test_direct_calls_refuse_the_same_types(reload_service):
    from bentoml.exceptions import InvalidArgument

    svc = reload_service().TopicTagger()
    for explain, found in WRONG_EXPLAINS:
        with pytest.raises(InvalidArgument) as info:
            svc.tag(text=TEXT, explain=explain)
        assert str(info.value) == explain_error(found)
        with pytest.raises(InvalidArgument):
            svc.tag_batch(texts=[TEXT], explain=explain)
    with pytest.raises(InvalidArgument, match="texts: expected a list of strings, found the string"):
        svc.tag_batch(texts=TEXT)
    with pytest.raises(InvalidArgument, match=r"texts\[1\]: expected a string, found 3"):
        svc.tag_batch(texts=[TEXT, 3])
    assert svc.tag(text=TEXT, explain=2).terms


def test_request_models_are_strict_and_closed():
    import serve.service as s

    assert s.TagRequest.model_validate_json(json.dumps({"text": TEXT, "explain": 4})).explain == 4
    assert s.TagBatchRequest.model_validate_json(json.dumps({"texts": [TEXT]})).explain == 0
    from pydantic import ValidationError

    for body in [{"text": TEXT, "explain": True}, {"text": TEXT, "explain": "3"}, {"text": TEXT, "explain": 2.0},
                 {"text": TEXT, "explian": 3}, {"text": b"bytes"}]:
        with pytest.raises(ValidationError):
            s.TagRequest.model_validate(body)


@pytest.mark.slow
def test_real_bentoml_serve_with_empty_settings_and_strict_bodies(trained_model_dir, tmp_path):
    """Both findings against a real `bentoml serve`: it starts with GIKAI_TOPICS_MAX_EXPLAIN="" (it used to
    fail at import) and answers the wrong types and the misspelt field with 400."""
    from test_serve import real_server

    with real_server(trained_model_dir, tmp_path, GIKAI_TOPICS_THREADS="2", GIKAI_TOPICS_MAX_EXPLAIN="",
                     GIKAI_TOPICS_MAX_BATCH="") as base:
        with httpx.Client(base_url=base, timeout=30) as c:
            assert c.get("/topics").json()["limits"] == {"max_chars": 20000, "max_batch": 1000, "max_explain": 50,
                                                         "max_body_bytes": 240_020_096}
            r = c.post("/tag", json={"text": TEXT, "explain": 3})
            assert r.status_code == 200 and "terms" in r.json()
            for explain, found in WRONG_EXPLAINS[:5]:
                r = c.post("/tag", json={"text": TEXT, "explain": explain})
                assert r.status_code == 400 and r.json()["error"] == explain_error(found), r.text
            r = c.post("/tag", json={"text": TEXT, "explian": 3})
            assert r.status_code == 400 and r.json()["error"].startswith("explian: unknown field"), r.text
            r = c.post("/tag_batch", json={"texts": [TEXT], "explain": True})
            assert r.status_code == 400 and r.json()["error"] == explain_error("true"), r.text
