"""The official SDK's on-disk files (docs/protocol.md §6.1, §6.2):
`~/.arkor/credentials.json` and `<cwd>/.arkor/state.json`.

Reading follows the SDK: a missing file or one with corrupt/ill-shaped JSON counts as
absent, but a file that exists and cannot be read is an error (and is never overwritten).
Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, SecretStr, TypeAdapter, ValidationError

from arkor_cloud.errors import ConfigurationError
from arkor_cloud.models import WireModel

__all__ = [
    "AnonymousCredentials",
    "Credentials",
    "OAuthCredentials",
    "ProjectState",
    "credentials_path",
    "read_credentials",
    "read_state",
    "state_path",
    "write_credentials",
    "write_state",
]


class _FileModel(WireModel):
    # Strict: a number where the SDK expects a string makes the whole file "absent".
    model_config = ConfigDict(strict=True, extra="ignore")


class AnonymousCredentials(_FileModel):
    mode: Literal["anon"]
    token: SecretStr
    anonymous_id: str | None = None
    arkor_cloud_api_url: str | None = None
    org_slug: str

    @property
    def bearer(self) -> SecretStr:
        return self.token


class OAuthCredentials(_FileModel):
    mode: Literal["oauth"]
    access_token: SecretStr
    arkor_cloud_api_url: str | None = None

    @property
    def bearer(self) -> SecretStr:
        return self.access_token


Credentials = Annotated[AnonymousCredentials | OAuthCredentials, Field(discriminator="mode")]
_credentials_adapter: TypeAdapter[Credentials] = TypeAdapter(Credentials)


class ProjectState(_FileModel):
    org_slug: str
    project_slug: str
    project_id: str


def credentials_path(home: Path) -> Path:
    return home / ".arkor" / "credentials.json"


def state_path(cwd: Path) -> Path:
    return cwd / ".arkor" / "state.json"


def read_credentials(home: Path) -> Credentials | None:
    raw = _read_json(credentials_path(home))
    try:
        return _credentials_adapter.validate_python(raw) if raw is not None else None
    except ValidationError:
        return None


def read_state(cwd: Path) -> ProjectState | None:
    raw = _read_json(state_path(cwd))
    try:
        return ProjectState.model_validate(raw) if raw is not None else None
    except ValidationError:
        return None


def write_credentials(home: Path, content: dict[str, Any]) -> None:
    """Write `credentials.json` (mode 0600), e.g. `{"mode": "anon", "token": ..., ...}`."""
    _write_json(credentials_path(home), content, mode=0o600)


def write_state(cwd: Path, state: ProjectState) -> None:
    _write_json(state_path(cwd), state.model_dump(by_alias=True), mode=0o644)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read {path}: {exc.strerror or exc}. Fix its permissions or remove it."
        ) from exc
    except UnicodeDecodeError:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _write_json(path: Path, content: dict[str, Any], *, mode: int) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(content, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
