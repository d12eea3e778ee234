"""First-time setup for users without Arkor files: anonymous credentials and a project
(docs/protocol.md §6.4, §6.5).

Used by a `login` command; `ClientSettings.resolve` never calls the network itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import structlog
from pydantic import SecretStr

from arkor_cloud.client import ArkorClient
from arkor_cloud.errors import ApiStatusError, ConfigurationError
from arkor_cloud.files import (
    AnonymousCredentials,
    Credentials,
    ProjectState,
    credentials_path,
    read_credentials,
    read_state,
    state_path,
    write_credentials,
    write_state,
)
from arkor_cloud.settings import DEFAULT_CLIENT_VERSION, ClientSettings, require_usable_state

__all__ = ["bootstrap_anonymous", "project_slug"]

_log = structlog.get_logger("arkor_cloud.bootstrap")


def project_slug(name: str) -> str:
    """The SDK's slug rule: lower-case, `[a-z0-9-]` only, `-` trimmed, 40 chars, or "project"."""
    slug = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:40]
    return slug or "project"


async def bootstrap_anonymous(
    base_url: str,
    cwd: Path,
    client_version: str = DEFAULT_CLIENT_VERSION,
    *,
    home: Path | None = None,
) -> ClientSettings:
    """Ensure credentials and project state exist, creating anonymous ones when missing.

    Valid existing credentials and usable state are reused. State of another anonymous
    org, or OAuth credentials without state, are errors for the user to resolve: the
    files are never overwritten.
    """
    home = Path.home() if home is None else home
    settings = ClientSettings(
        base_url=base_url,
        token=SecretStr(""),
        org_slug="",
        project_slug="",
        client_version=client_version,
    )
    creds = read_credentials(home) or await _issue_credentials(settings, home)
    settings = settings.model_copy(update={"token": creds.bearer})
    state = read_state(cwd)
    if state is not None:
        require_usable_state(state, creds, cwd=cwd, home=home)
    elif isinstance(creds, AnonymousCredentials):
        async with ArkorClient(settings) as client:
            state = await _create_project(client, creds.org_slug, _directory_name(cwd))
        write_state(cwd, state)
        _log.info("arkor_cloud.bootstrap.state_created", path=str(state_path(cwd)))
    else:
        raise ConfigurationError(
            f"No {state_path(cwd)} found. OAuth users create it by hand with "
            '{"orgSlug": ..., "projectSlug": ..., "projectId": ...}.'
        )
    return settings.model_copy(
        update={"org_slug": state.org_slug, "project_slug": state.project_slug}
    )


def _directory_name(cwd: Path) -> str:
    # The SDK names the project after the last segment of the working directory.
    return cwd.resolve().name


async def _issue_credentials(settings: ClientSettings, home: Path) -> Credentials:
    async with ArkorClient(settings) as client:
        issued = await client.request_anonymous_token()
    creds = AnonymousCredentials(
        mode="anon",
        token=issued.token,
        anonymous_id=issued.anonymous_id,
        arkor_cloud_api_url=settings.base_url,
        org_slug=issued.personal_org.slug,
    )
    content = creds.model_dump(by_alias=True, exclude_none=True)
    write_credentials(home, {**content, "token": issued.token.get_secret_value()})
    _log.info("arkor_cloud.bootstrap.credentials_created", path=str(credentials_path(home)))
    return creds


async def _create_project(client: ArkorClient, org_slug: str, name: str) -> ProjectState:
    slug = project_slug(name)
    try:
        project = await client.create_project(name, slug, org_slug=org_slug)
    except ApiStatusError as exc:
        if exc.status != 409:
            raise
        # The slug exists already (say, an earlier bootstrap): reuse that project.
        existing = [p for p in await client.list_projects(org_slug) if p.slug == slug]
        if not existing:
            raise
        project = existing[0]
    return ProjectState(org_slug=org_slug, project_slug=project.slug, project_id=project.id)
