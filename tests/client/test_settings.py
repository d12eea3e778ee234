"""Settings resolution (docs/protocol.md §6, §14.2) and secret hygiene."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from arkor_cloud import ClientSettings, ConfigurationError

ANON = {
    "mode": "anon",
    "token": "anon-tok",
    "anonymousId": "a1",
    "arkorCloudApiUrl": "http://staging.test/",
    "orgSlug": "anon-abc",
}
OAUTH = {"mode": "oauth", "accessToken": "oauth-tok", "refreshToken": "r", "expiresAt": 1}
STATE = {"orgSlug": "anon-abc", "projectSlug": "proj", "projectId": "p1"}


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()
    return home, cwd


def write(path: Path, content: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))


def creds_file(home: Path) -> Path:
    return home / ".arkor" / "credentials.json"


def state_file(cwd: Path) -> Path:
    return cwd / ".arkor" / "state.json"


def resolve(dirs: tuple[Path, Path], **env: str) -> ClientSettings:
    home, cwd = dirs
    return ClientSettings.resolve(env=env, home=home, cwd=cwd)


def test_own_env_vars_need_no_files(dirs: tuple[Path, Path]) -> None:
    s = resolve(
        dirs,
        ARKOR_TEMPORAL_TOKEN="env-tok",
        ARKOR_TEMPORAL_ORG="o",
        ARKOR_TEMPORAL_PROJECT="p",
        ARKOR_TEMPORAL_API_URL="http://local:8787//",
        ARKOR_TEMPORAL_CLIENT_VERSION="arkor/0.0.4",
    )
    assert (s.token.get_secret_value(), s.org_slug, s.project_slug) == ("env-tok", "o", "p")
    assert s.base_url == "http://local:8787" and s.client_version == "0.0.4"


def test_official_anonymous_files(dirs: tuple[Path, Path]) -> None:
    write(creds_file(dirs[0]), ANON)
    write(state_file(dirs[1]), STATE)
    s = resolve(dirs)
    assert (s.token.get_secret_value(), s.org_slug, s.project_slug) == (
        "anon-tok",
        "anon-abc",
        "proj",
    )
    assert s.base_url == "http://staging.test"  # the URL the token was issued by


def test_env_beats_files(dirs: tuple[Path, Path]) -> None:
    write(creds_file(dirs[0]), ANON)
    write(state_file(dirs[1]), STATE)
    s = resolve(
        dirs,
        ARKOR_TEMPORAL_TOKEN="env-tok",
        ARKOR_TEMPORAL_PROJECT="other",
        ARKOR_TEMPORAL_API_URL="http://ours.test",
        ARKOR_CLOUD_API_URL="http://sdk.test",
    )
    assert (s.token.get_secret_value(), s.org_slug, s.project_slug) == (
        "env-tok",
        "anon-abc",
        "other",
    )
    assert s.base_url == "http://ours.test"


def test_oauth_uses_access_token_and_any_org(dirs: tuple[Path, Path]) -> None:
    write(creds_file(dirs[0]), OAUTH)
    write(state_file(dirs[1]), {**STATE, "orgSlug": "team"})
    s = resolve(dirs)
    assert (s.token.get_secret_value(), s.org_slug) == ("oauth-tok", "team")
    assert s.base_url == "https://api.arkor.ai"


@pytest.mark.parametrize(("value", "expected"), [("http://sdk.test///", "http://sdk.test")])
def test_arkor_cloud_api_url_beats_credentials(
    dirs: tuple[Path, Path], value: str, expected: str
) -> None:
    write(creds_file(dirs[0]), ANON)
    write(state_file(dirs[1]), STATE)
    assert resolve(dirs, ARKOR_CLOUD_API_URL=value).base_url == expected


def test_empty_arkor_cloud_api_url_is_honoured_and_reported(dirs: tuple[Path, Path]) -> None:
    write(creds_file(dirs[0]), ANON)
    write(state_file(dirs[1]), STATE)
    with pytest.raises(ConfigurationError, match="from ARKOR_CLOUD_API_URL") as info:
        resolve(dirs, ARKOR_CLOUD_API_URL="")
    assert "ARKOR_TEMPORAL_API_URL" in str(info.value)
    # Our own variable, when empty, is simply unset.
    assert resolve(dirs, ARKOR_TEMPORAL_API_URL="").base_url == "http://staging.test"


def test_mismatched_anonymous_state_is_refused(dirs: tuple[Path, Path]) -> None:
    write(creds_file(dirs[0]), ANON)
    write(state_file(dirs[1]), {**STATE, "orgSlug": "someone-else"})
    with pytest.raises(ConfigurationError) as info:
        resolve(dirs)
    message = str(info.value)
    assert "someone-else" in message and "Delete" in message and "ARKOR_TEMPORAL_ORG" in message
    assert "anon-tok" not in message
    # Explicit scope sidesteps the file.
    assert resolve(dirs, ARKOR_TEMPORAL_ORG="o", ARKOR_TEMPORAL_PROJECT="p").org_slug == "o"


def test_missing_token_names_the_fix(dirs: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve(dirs)
    assert "ARKOR_TEMPORAL_TOKEN" in str(info.value)
    assert str(creds_file(dirs[0])) in str(info.value)


@pytest.mark.parametrize("content", ["{corrupt", json.dumps({"mode": "anon", "token": 5}), "[]"])
def test_corrupt_credentials_count_as_absent(dirs: tuple[Path, Path], content: str) -> None:
    write(creds_file(dirs[0]), content)
    with pytest.raises(ConfigurationError, match="No Arkor token found"):
        resolve(dirs)


def test_unreadable_credentials_are_an_error(dirs: tuple[Path, Path]) -> None:
    creds_file(dirs[0]).mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(ConfigurationError, match="Cannot read"):
        resolve(dirs)


def test_missing_scope_names_env_vars_and_state_file(dirs: tuple[Path, Path]) -> None:
    write(creds_file(dirs[0]), OAUTH)
    write(state_file(dirs[1]), {**STATE, "projectId": 3})  # not all strings: absent
    with pytest.raises(ConfigurationError) as info:
        resolve(dirs, ARKOR_TEMPORAL_ORG="o")
    message = str(info.value)
    assert "set ARKOR_TEMPORAL_PROJECT" in message and "ARKOR_TEMPORAL_ORG" not in message
    assert str(state_file(dirs[1])) in message


def test_anonymous_org_fills_in_when_only_the_project_is_given(dirs: tuple[Path, Path]) -> None:
    write(creds_file(dirs[0]), ANON)
    assert resolve(dirs, ARKOR_TEMPORAL_PROJECT="p").org_slug == "anon-abc"


def test_token_never_shown(dirs: tuple[Path, Path]) -> None:
    s = ClientSettings(
        base_url="http://x", token=SecretStr("top-secret"), org_slug="o", project_slug="p"
    )
    with capture_logs() as logs:
        shown = repr(s) + str(s) + s.model_dump_json() + str(s.model_dump())
    assert "top-secret" not in shown and not logs


def test_resolve_defaults_to_the_process_environment(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        os,
        "environ",
        {"ARKOR_TEMPORAL_TOKEN": "t", "ARKOR_TEMPORAL_ORG": "o", "ARKOR_TEMPORAL_PROJECT": "p"},
    )
    assert ClientSettings.resolve(home=dirs[0], cwd=dirs[1]).org_slug == "o"


def test_token_from_a_file_as_a_platform_mounts_secrets(
    dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-tok\n")
    s = resolve(
        dirs,
        ARKOR_TEMPORAL_TOKEN_FILE=str(token_file),
        ARKOR_TEMPORAL_ORG="o",
        ARKOR_TEMPORAL_PROJECT="p",
    )
    assert s.token.get_secret_value() == "file-tok"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ARKOR_TEMPORAL_TOKEN_FILE": "/nonexistent/token"}, "cannot be read"),
        ({"ARKOR_TEMPORAL_TOKEN_FILE": "EMPTY"}, "is empty"),
        ({"ARKOR_TEMPORAL_TOKEN_FILE": "EMPTY", "ARKOR_TEMPORAL_TOKEN": "t"}, "keep one"),
    ],
)
def test_token_file_errors_name_the_variable(
    dirs: tuple[Path, Path], tmp_path: Path, env: dict[str, str], message: str
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    env = {k: str(empty) if v == "EMPTY" else v for k, v in env.items()}
    with pytest.raises(ConfigurationError) as info:
        resolve(dirs, ARKOR_TEMPORAL_ORG="o", ARKOR_TEMPORAL_PROJECT="p", **env)
    assert message in str(info.value) and "ARKOR_TEMPORAL_TOKEN_FILE" in str(info.value)
