"""Client settings and their resolution from the environment and the SDK's files.

See docs/protocol.md §6 and §14.2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from arkor_cloud.errors import ConfigurationError
from arkor_cloud.files import (
    AnonymousCredentials,
    Credentials,
    ProjectState,
    credentials_path,
    read_credentials,
    read_state,
    state_path,
)

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_CLIENT_VERSION", "ClientSettings", "require_usable_state"]

DEFAULT_BASE_URL = "https://api.arkor.ai"
# The SDK protocol revision this client implements (sent as `X-Arkor-Client: arkor/<v>`).
DEFAULT_CLIENT_VERSION = "0.0.3-alpha.1"

ENV_TOKEN = "ARKOR_TEMPORAL_TOKEN"
# The token in a file (a Kubernetes Secret volume, a Compose secret): never in the environment.
ENV_TOKEN_FILE = "ARKOR_TEMPORAL_TOKEN_FILE"
ENV_ORG = "ARKOR_TEMPORAL_ORG"
ENV_PROJECT = "ARKOR_TEMPORAL_PROJECT"
ENV_API_URL = "ARKOR_TEMPORAL_API_URL"
ENV_CLIENT_VERSION = "ARKOR_TEMPORAL_CLIENT_VERSION"
ENV_SDK_API_URL = "ARKOR_CLOUD_API_URL"


class ClientSettings(BaseModel):
    """Everything `ArkorClient` needs. The token is a `SecretStr`: never shown in repr or logs."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    token: SecretStr
    org_slug: str
    project_slug: str
    client_version: str = DEFAULT_CLIENT_VERSION
    timeout: float = 30.0

    @field_validator("base_url")
    @classmethod
    def _strip_trailing_slashes(cls, url: str) -> str:
        return url.rstrip("/")

    @field_validator("client_version")
    @classmethod
    def _bare_revision(cls, version: str) -> str:
        # Accept the header form too ("arkor/0.0.4"); the prefix is added when sending.
        return version.removeprefix("arkor/")

    @classmethod
    def resolve(
        cls,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
        cwd: Path | None = None,
    ) -> ClientSettings:
        """Resolve settings: our env vars, then the SDK's files, then the SDK's URL defaults.

        Our own variables treat an empty value as unset (so deployment templates can
        leave them blank); `ARKOR_CLOUD_API_URL` keeps the SDK's "defined, even empty" rule.
        """
        env = os.environ if env is None else env
        home = Path.home() if home is None else home
        cwd = Path.cwd() if cwd is None else cwd

        def own(name: str) -> str | None:
            return env.get(name) or None

        creds = read_credentials(home)
        env_token = _token_from_env(own(ENV_TOKEN), own(ENV_TOKEN_FILE))
        if env_token is not None:
            token = SecretStr(env_token)
        elif creds is not None:
            token = creds.bearer
        else:
            raise ConfigurationError(
                f"No Arkor token found: set {ENV_TOKEN} (or {ENV_TOKEN_FILE}), or log in "
                "with the Arkor CLI "
                f"(`arkor login`) so that {credentials_path(home)} exists."
            )

        org, project = own(ENV_ORG), own(ENV_PROJECT)
        if org is None or project is None:
            state = read_state(cwd)
            if state is not None:
                if env_token is None:
                    require_usable_state(state, creds, cwd=cwd, home=home)
                org = org or state.org_slug
                project = project or state.project_slug
            elif env_token is None and isinstance(creds, AnonymousCredentials):
                org = org or creds.org_slug
        if org is None or project is None:
            missing = " and ".join(
                name for name, value in ((ENV_ORG, org), (ENV_PROJECT, project)) if value is None
            )
            raise ConfigurationError(
                f"No Arkor project scope found: set {missing}, or create {state_path(cwd)} "
                '(JSON: {"orgSlug": ..., "projectSlug": ..., "projectId": ...}).'
            )

        base_url, source = own(ENV_API_URL), ENV_API_URL
        if base_url is None:
            if ENV_SDK_API_URL in env:
                base_url, source = env[ENV_SDK_API_URL], ENV_SDK_API_URL
            elif creds is not None and creds.arkor_cloud_api_url is not None:
                base_url = creds.arkor_cloud_api_url
                source = f"arkorCloudApiUrl in {credentials_path(home)}"
            else:
                base_url = DEFAULT_BASE_URL
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"Invalid Arkor API base URL {base_url!r} (from {source}): set {ENV_API_URL} "
                f"to an http(s) URL such as {DEFAULT_BASE_URL}."
            )

        return cls(
            base_url=base_url,
            token=token,
            org_slug=org,
            project_slug=project,
            client_version=own(ENV_CLIENT_VERSION) or DEFAULT_CLIENT_VERSION,
        )


def _token_from_env(token: str | None, token_file: str | None) -> str | None:
    """The token from ``ARKOR_TEMPORAL_TOKEN`` or the file ``ARKOR_TEMPORAL_TOKEN_FILE`` names."""
    if token is not None and token_file is not None:
        raise ConfigurationError(
            f"Both {ENV_TOKEN} and {ENV_TOKEN_FILE} are set: keep one (the file, where the "
            "platform can mount secrets)."
        )
    if token_file is None:
        return token
    try:
        text = Path(token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(
            f"{ENV_TOKEN_FILE}={token_file!r} cannot be read ({exc.strerror}): point it at "
            "the file that holds the Arkor token."
        ) from None
    if not text:
        raise ConfigurationError(
            f"{ENV_TOKEN_FILE}={token_file!r} is empty: write the Arkor token into it."
        )
    return text


def require_usable_state(
    state: ProjectState, creds: Credentials | None, *, cwd: Path, home: Path
) -> None:
    """docs/protocol.md §6.5: anonymous credentials may only use the state of their own org."""
    if isinstance(creds, AnonymousCredentials) and state.org_slug != creds.org_slug:
        raise ConfigurationError(
            f"{state_path(cwd)} belongs to org {state.org_slug!r}, but the anonymous "
            f"credentials in {credentials_path(home)} are for org {creds.org_slug!r}. "
            f"Delete {state_path(cwd)}, log in with the account that owns the project, "
            f"or set {ENV_ORG} and {ENV_PROJECT}."
        )
