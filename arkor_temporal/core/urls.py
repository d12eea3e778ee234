"""Credentials inside URLs: found before a spec is accepted, and never repeated.

A spec is stored in Temporal history and shown in the Web UI, so a URL in it
must not carry a secret: neither userinfo (``https://user:pass@host``, or a
lone ``https://TOKEN@host``) nor a query parameter (or fragment parameter, as
in ``#access_token=``) whose *name* says it holds one: a token, key, secret,
signature (``sig``, ``X-Amz-Signature``, Azure SAS ``sig``), credential,
password or auth value. Names are matched case-insensitively and word by
word, so ``apiKey``, ``api-key``, ``x-api-key`` and ``X-Amz-Security-Token``
count too; an empty value holds nothing and is let through.

Problems are told with the URL redacted (``https://***@host/x?token=***``),
so an error message never contains the secret it is about.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

REDACTED = "***"

# Anywhere in a name, these say it holds a secret ("clientSecret", "x_api_key", "passwd").
_SECRET_STEMS = (
    "secret",
    "passw",
    "credential",
    "signature",
    "apikey",
    "accesskey",
    "privatekey",
    "authkey",
)
# A word ending so is a token ("access_token", "accesstoken"; not "tokenizer").
_TOKEN_ENDINGS = ("token", "tokens")
# Short words that name a secret only as a whole word ("api_key", "sig"; not "monkey").
_SECRET_WORDS = frozenset({"key", "sig", "pass", "pwd", "auth", "authorization", "jwt"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter of this name holds a secret (``token``, ``apiKey``, ``sig``)."""
    words = [word.lower() for word in _WORD.findall(name)]
    joined = "".join(words)
    return (
        any(stem in joined for stem in _SECRET_STEMS)
        or any(word.endswith(_TOKEN_ENDINGS) for word in words)
        or bool(_SECRET_WORDS & set(words))
    )


@dataclass(frozen=True)
class UrlSecrets:
    """What in one URL is secret, and the URL with those parts replaced by ``***``."""

    redacted: str
    userinfo: bool
    parameters: tuple[str, ...]

    def describe(self) -> str:
        """Say so: ``the URL https://***@h/x?token=*** has credentials in it (..., ?token=)``."""
        where = (["user:password@"] if self.userinfo else []) + [
            f"?{name}=" for name in self.parameters
        ]
        return f"the URL {self.redacted} has credentials in it ({', '.join(where)})"


def _redact_parameters(text: str, found: list[str]) -> str:
    parts = []
    for part in text.split("&"):
        raw_name, sep, value = part.partition("=")
        name = unquote_plus(raw_name)
        if sep and value and is_secret_name(name):
            found.append(name)
            part = f"{raw_name}={REDACTED}"
        parts.append(part)
    return "&".join(parts)


def url_secrets(url: str) -> UrlSecrets | None:
    """The secrets in ``url``, or None when it has none (or is not a URL with a scheme).

    Split by hand as RFC 3986 does (``urlsplit`` gives up on a stray IPv6 bracket,
    which must not let the rest of such a URL through unchecked).
    """
    scheme = _URL.match(url)
    if scheme is None:
        return None
    rest = url[scheme.end() :]
    netloc_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, rest = rest[:netloc_end], rest[netloc_end:]
    rest, hash_mark, fragment = rest.partition("#")
    path, question_mark, query = rest.partition("?")
    userinfo, _, host = netloc.rpartition("@")
    found: list[str] = []
    query = _redact_parameters(query, found)
    if "=" in fragment:  # ``#access_token=...``, as OAuth's implicit flow puts it
        fragment = _redact_parameters(fragment, found)
    if not userinfo and not found:
        return None
    netloc = f"{REDACTED}@{host}" if userinfo else netloc
    redacted = f"{scheme.group()}{netloc}{path}{question_mark}{query}{hash_mark}{fragment}"
    return UrlSecrets(redacted, bool(userinfo), tuple(dict.fromkeys(found)))


def find_url_secrets(value: Any, path: str = "") -> Iterator[tuple[str, UrlSecrets]]:
    """Every URL with secrets in plain data (strings in nested mappings and lists), by path.

    Paths read like spec locations: ``emulator.callbackUrl``, ``urls.0``.
    """
    if isinstance(value, str):
        found = url_secrets(value.strip())
        if found is not None:
            yield path, found
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from find_url_secrets(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            yield from find_url_secrets(inner, f"{path}.{index}" if path else str(index))
