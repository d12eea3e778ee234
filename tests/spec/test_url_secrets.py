"""URLs with credentials in them are refused before anything starts, named with the fix.

A spec is stored in Temporal history and shown in the Web UI, so a URL in it
(the blob dataset's, or one in a field passed through to the backend) must not
carry ``user:pass@`` or a query parameter named like a secret. The error shows
the URL with the secret parts as ``***``: never the secret itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from arkor_temporal.core.spec import SpecError, load_spec, parse_spec
from arkor_temporal.core.urls import is_secret_name, url_secrets
from tests.support.secrets import assert_no_secret

CLI = str(Path(sys.executable).parent / "arkor-temporal")
BASE = {"name": "r", "model": "unsloth/gemma-4-E4B-it"}
SECRET = "hunter2"
# What a new user tried: a blob dataset URL with userinfo and a token in the query.
TRIED = f"https://user:{SECRET}@blob.example.com/data/train.jsonl?token=abc123"


def blob(url: str, **fields: str) -> dict[str, object]:
    return {**BASE, "dataset": {"type": "blob", "url": url, **fields}}


def refused(data: object) -> str:
    with pytest.raises(SpecError) as raised:
        parse_spec(data, "spec.yaml")
    [problem] = raised.value.problems
    return problem


def test_the_url_a_new_user_tried_is_refused_with_the_fix_and_no_secret() -> None:
    problem = refused(blob(TRIED))
    assert problem == (
        "dataset.url: the URL https://***@blob.example.com/data/train.jsonl?token=*** "
        "has credentials in it (user:password@, ?token=); a spec is stored in Temporal "
        "history and shown in the Web UI, so it must hold no secrets: give the URL without "
        "them, put the token in an environment variable on the worker and set "
        "dataset.tokenEnv to that variable's name"
    )
    assert_no_secret((SECRET, "abc123", "user:hunter2"), {"problem": problem})


@pytest.mark.parametrize(
    ("url", "shown", "where"),
    [
        ("https://user:SEKRIT@h.example/d", "https://***@h.example/d", "user:password@"),
        ("https://ghp_SEKRIT@h.example/d", "https://***@h.example/d", "user:password@"),
        ("https://SEKRIT:@h.example/d", "https://***@h.example/d", "user:password@"),
        ("https://:SEKRIT@h.example:8443/d", "https://***@h.example:8443/d", "user:password@"),
        ("https://h.example/d?token=SEKRIT", "https://h.example/d?token=***", "?token="),
        ("https://h.example/d?TOKEN=SEKRIT", "https://h.example/d?TOKEN=***", "?TOKEN="),
        ("https://h.example/d?access_token=SEKRIT", "https://h.example/d?access_token=***", ""),
        ("https://h.example/d?accessToken=SEKRIT", "https://h.example/d?accessToken=***", ""),
        ("https://h.example/d?key=SEKRIT", "https://h.example/d?key=***", "?key="),
        (
            "https://h.example/d?api_key=SEKRIT",
            "https://h.example/d?api_key=***",
            "?api_key=",
        ),
        ("https://h.example/d?apiKey=SEKRIT", "https://h.example/d?apiKey=***", "?apiKey="),
        (
            "https://h.example/d?api-key=SEKRIT",
            "https://h.example/d?api-key=***",
            "?api-key=",
        ),
        ("https://h.example/d?x-api-key=SEKRIT", "https://h.example/d?x-api-key=***", ""),
        ("https://h.example/d?secret=SEKRIT", "https://h.example/d?secret=***", "?secret="),
        ("https://h.example/d?client_secret=SEKRIT", "https://h.example/d?client_secret=***", ""),
        (
            "https://h.example/d?password=SEKRIT",
            "https://h.example/d?password=***",
            "?password=",
        ),
        ("https://h.example/d?pass=SEKRIT", "https://h.example/d?pass=***", "?pass="),
        ("https://h.example/d?pwd=SEKRIT", "https://h.example/d?pwd=***", "?pwd="),
        ("https://h.example/d?auth=SEKRIT", "https://h.example/d?auth=***", "?auth="),
        ("https://h.example/d?credential=SEKRIT", "https://h.example/d?credential=***", ""),
        # A percent-encoded name is still the name it decodes to.
        ("https://h.example/d?to%6Ben=SEKRIT", "https://h.example/d?to%6Ben=***", "?token="),
        # OAuth's implicit flow puts the token in the fragment.
        ("https://h.example/d#access_token=SEKRIT", "https://h.example/d#access_token=***", ""),
        # Azure SAS: only sig is secret; the other parameters are shown as they are.
        (
            "https://acct.blob.core.windows.net/c/d.jsonl?sv=2022-11-02&sp=r&sig=SEKRIT",
            "https://acct.blob.core.windows.net/c/d.jsonl?sv=2022-11-02&sp=r&sig=***",
            "?sig=",
        ),
        # An S3 presigned URL.
        (
            "https://b.s3.amazonaws.com/d.jsonl?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=SEKRIT&X-Amz-Signature=SEKRIT",
            "https://b.s3.amazonaws.com/d.jsonl?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=***&X-Amz-Signature=***",
            "?X-Amz-Credential=, ?X-Amz-Signature=",
        ),
        # A GCS signed URL.
        (
            "https://storage.googleapis.com/b/d?X-Goog-Signature=SEKRIT",
            "https://storage.googleapis.com/b/d?X-Goog-Signature=***",
            "?X-Goog-Signature=",
        ),
    ],
)
def test_blob_urls_with_credentials_are_refused(url: str, shown: str, where: str) -> None:
    problem = refused(blob(url, tokenEnv="TOK"))
    assert problem.startswith(f"dataset.url: the URL {shown} has credentials in it (")
    assert where in problem
    assert "dataset.tokenEnv" in problem, "the fix is named"
    assert "SEKRIT" in url and "SEKRIT" not in shown
    assert_no_secret(("SEKRIT",), {"problem": problem})


def test_the_whole_error_never_holds_the_secret() -> None:
    with pytest.raises(SpecError) as raised:
        parse_spec(blob(TRIED), "spec.yaml")
    assert_no_secret((SECRET, "abc123"), {"SpecError": str(raised.value)})


@pytest.mark.parametrize(
    "url",
    [
        "https://data.example.com/support.jsonl",
        "https://data.example.com/d.jsonl?split=train&page=2&format=jsonl",
        "https://data.example.com/d.jsonl?tokenizer=gpt2&keyword=x&author=me",
        "https://data.example.com/d.jsonl?token=",  # an empty value holds nothing
        "https://data.example.com/d.jsonl?token",
        "https://data.example.com/users/a@b.example/d.jsonl",  # an @ in the path is no userinfo
        "https://data.example.com/d.jsonl?email=a@b.example",
        "https://acct.blob.core.windows.net/c/d.jsonl?sv=2022-11-02&sp=r",
        "http://127.0.0.1:8080/d.jsonl#section",
    ],
)
def test_clean_urls_are_accepted(url: str) -> None:
    spec = parse_spec(blob(url, tokenEnv="TOK"))
    assert spec.job_config()["datasetSource"] == {"type": "blob", "url": url}


def test_a_spec_file_and_a_set_override_are_refused_alike(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(blob(TRIED)))
    for overrides in (None, [f"dataset.url={TRIED}"]):
        if overrides:
            path.write_text(yaml.safe_dump(blob("https://clean.example/d.jsonl")))
        with pytest.raises(SpecError) as raised:
            load_spec(path, overrides)
        [problem] = raised.value.problems
        assert problem.startswith("dataset.url: the URL https://***@blob.example.com/")
        assert_no_secret((SECRET, "abc123"), {"error": str(raised.value)})


def test_the_cli_refuses_it_with_exit_2_before_it_connects(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(blob(TRIED)))
    done = subprocess.run(
        [CLI, "run", "start", str(path)],
        # Nothing listens there: only a refusal before any connection can exit 2 at once.
        env={**os.environ, "TEMPORAL_ADDRESS": "127.0.0.1:1", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "dataset.url: the URL https://***@blob.example.com/" in done.stderr
    assert "dataset.tokenEnv" in done.stderr
    assert_no_secret((SECRET, "abc123"), {"stdout": done.stdout, "stderr": done.stderr})


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("backend", {"callbackUrl": "https://h.example/cb?apiKey=k3y"}, "at callbackUrl, "),
        (
            "backend",
            {"emulator": {"mirrors": ["https://ok.example/x", "https://u:p4ss@h.example/d"]}},
            "at emulator.mirrors.1, ",
        ),
        ("backend", {"store": "s3://AKIAEXAMPLE:s3cr3tkey@bucket/path"}, "at store, "),
        ("datasetFormat", {"template": "https://h.example/t?sig=s1g"}, "at template, "),
        ("trainOnResponsesOnly", "https://h.example/t?token=t0k", ""),
    ],
)
def test_urls_with_credentials_in_passthrough_fields_are_refused(
    field: str, value: object, where: str
) -> None:
    problem = refused({**BASE, "dataset": {"type": "huggingface", "name": "x"}, field: value})
    assert problem.startswith(f"{field}: {where}the URL ")
    assert "has credentials in it" in problem and "dataset.tokenEnv" in problem
    assert_no_secret(("k3y", "p4ss", "s3cr3tkey", "s1g", "t0k"), {"problem": problem})


def test_passthrough_urls_without_credentials_are_passed_on() -> None:
    backend = {"emulator": {"callbackUrl": "https://h.example/cb?run=1"}}
    spec = parse_spec({**BASE, "dataset": {"type": "huggingface", "name": "x"}, "backend": backend})
    assert spec.job_config()["emulator"] == backend["emulator"]


def test_a_literal_webhook_url_is_still_refused_for_urlenv() -> None:
    webhook = {"kind": "slack", "url": "https://hooks.slack.com/services/T0/B0/s3cr3t"}
    problem = refused(
        {**BASE, "dataset": {"type": "huggingface", "name": "x"}, "notifications": [webhook]}
    )
    assert problem.startswith("notifications.0:") and "urlEnv" in problem
    assert_no_secret(("s3cr3t",), {"problem": problem})


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "Token",
        "access_token",
        "X-Amz-Security-Token",
        "apikey",
        "API_KEY",
        "x-api-key",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "AWSAccessKeyId",
        "sig",
        "Signature",
        "passwd",
        "Authorization",
        "clientSecret",
        "private_key",
        "jwt",
    ],
)
def test_secret_parameter_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["sv", "se", "sp", "split", "page", "tokenizer", "keyword", "monkey", "author", "code"]
)
def test_ordinary_parameter_names(name: str) -> None:
    assert not is_secret_name(name)


def test_a_broken_host_does_not_hide_the_rest_of_the_url() -> None:
    found = url_secrets("https://[::1/d.jsonl?token=t0k")
    assert found is not None and found.redacted == "https://[::1/d.jsonl?token=***"
