"""Problems found by walking through the README command by command at tiny scale."""

from __future__ import annotations

import json
import shutil

import pytest

from train.cli import main
from train.errors import InputError, LabelError
from train.jsonline import loads_line


# --------------------------------------------------------------------------- malformed JSON: where


def test_a_line_cut_short_is_reported_at_its_end_not_at_column_1(tmp_path, capsys):
    """A JSONL line read with its newline was reported "at column 1" (of the line after it)."""
    with pytest.raises(InputError, match=r"f:3: malformed JSON \(Expecting value at column 21\)"):
        loads_line('{"id": "x", "text": \n', "f:3", InputError)
    with pytest.raises(InputError, match=r"at column 21\)"):
        loads_line(b'{"id": "x", "text": \r\n', "f:3", InputError)
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"id": "a", "text": "防災"\n', encoding="utf-8")
    assert main(["predict", "--model", "unused", "--input", str(bad)]) == 1
    assert "in.jsonl:1: malformed JSON (Expecting ',' delimiter at column 25)" in capsys.readouterr().err


def test_a_whole_file_names_the_line_of_its_error(tmp_path, capsys):
    """`labels import` parses a whole file: "Extra data at column 1" did not say on which line."""
    jsonl = tmp_path / "export.json"
    jsonl.write_text('{"id": 1}\n{"id": 2}\n', encoding="utf-8")  # JSONL given where a JSON export is expected
    assert main(["labels", "import", str(jsonl), "--out", str(tmp_path / "x.jsonl"), "--labels", str(tmp_path)]) == 1
    assert "malformed JSON (Extra data at line 2, column 1)" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
    with pytest.raises(LabelError, match=r"at column 2\)"):
        loads_line("{\n", "f", LabelError)


# --------------------------------------------------------------------------- tag-corpus: stale parts


def test_stale_parts_name_the_chunk_size_that_differs(corpus, tmp_path, trained_model_dir):
    """Resuming with another --chunk-size was refused as "a run with other inputs or another model"."""
    from train import tag_files, tagging

    out = tmp_path / "t.jsonl"
    parts = tmp_path / "t.jsonl.parts"
    parts.mkdir()
    manifest = tagging._fingerprint([corpus], str(trained_model_dir), "digest", 20)
    (parts / "manifest.json").write_text(json.dumps(manifest))
    (parts / "part-000000.jsonl").write_text("{}\n")
    new = tagging._fingerprint([corpus], str(trained_model_dir), "digest", 50)
    with pytest.raises(InputError, match=r"from a run with another --chunk-size \(20; now 50\); re-run with --restart"):
        tag_files.prepare_parts(parts, new, restart=False)
    other = tagging._fingerprint([corpus], str(trained_model_dir), "other digest", 20)
    with pytest.raises(InputError, match=r"from a run with another model; re-run"):
        tag_files.prepare_parts(parts, other, restart=False)
    (parts / "manifest.json").write_text('{"key": "something else"}')  # nothing to compare: the general message
    with pytest.raises(InputError, match=r"from a run with other inputs or another model; re-run"):
        tag_files.prepare_parts(parts, new, restart=False)
    assert not out.exists()


# --------------------------------------------------------------------------- vectors info


def test_vectors_info_errors_name_the_file_not_a_setting(tmp_path, capsys):
    """`vectors info nope.npz` blamed `features.vectors` and told to set it to "bundled"; a file that is not an
    .npz got numpy's advice to load it "unsafely" as a pickle."""
    assert main(["vectors", "info", str(tmp_path / "nope.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: vectors info: expected a word-vectors .npz file") and "features." not in err
    text = tmp_path / "in.jsonl"
    text.write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    assert main(["vectors", "info", str(text)]) == 1
    err = capsys.readouterr().err
    assert "not a word-vectors file (expected an .npz archive)" in err and "pickle" not in err
    assert len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- serve: the model checked first


def test_serve_refuses_a_folder_that_is_not_a_model_before_starting(tmp_path, trained_model_dir):
    """README: the model is checked before the server starts.  A folder that is no model (or a modified model)
    started a server that stayed not-ready, answering 503 to every request."""
    from train.errors import ModelError
    from train.serving import server_env

    folder = tmp_path / "corpus"
    folder.mkdir()
    with pytest.raises(ModelError, match="not a gikai-topics model"):
        server_env(str(folder), None, None)
    bad = tmp_path / "bad"
    shutil.copytree(trained_model_dir, bad)
    with open(bad / "model.joblib", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ModelError, match="does not match the manifest"):
        server_env(str(bad), None, None)
    assert server_env(str(trained_model_dir), None, None)["GIKAI_TOPICS_MODEL"] == str(trained_model_dir.resolve())


def test_serve_cli_exits_1_with_one_line_for_a_non_model_folder(tmp_path, capsys, monkeypatch):
    import train.serving

    def no_server(*args, **kwargs):  # were the model not checked first, no real server may start
        raise AssertionError("the server was started for a folder that is not a model")

    monkeypatch.setattr(train.serving.subprocess, "Popen", no_server)
    folder = tmp_path / "corpus"
    folder.mkdir()
    assert main(["serve", "--model", str(folder), "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a gikai-topics model" in err and len(err.strip().splitlines()) == 1
