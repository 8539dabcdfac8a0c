"""Admin API users: API keys, roles and what each role may do (pure: no I/O).

An API key is `epdk_<key_id>_<secret>`: key_id is 16 characters [a-z0-9] (looked up), secret is 43
characters of URL-safe base64 (256 bits; only its scrypt hash is stored). A user holds one or more
roles; every authenticated user may read. The legacy EPD_FOOTPRINT_ADMIN_TOKEN authenticates as the
bootstrap operator: registry writes, never a decision on a version.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import secrets

KEY_PREFIX = "epdk"
MAX_KEY_CHARS = 200  # a key is 65 characters; anything longer is refused before any hashing
BOOTSTRAP_USER_ID = "bootstrap"
_KEY = re.compile(r"epdk_([a-z0-9]{16})_([A-Za-z0-9_-]{43})")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
NAME = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


class Role(enum.StrEnum):
    OPERATOR = "operator"
    VERIFIER = "verifier"
    AUDITOR = "auditor"


class Action(enum.StrEnum):
    READ = "read"  # GETs: every role
    WRITE = "write"  # registry, imports, product systems, PCRs, plant keys, policies, expiry: operator
    DECIDE = "decide"  # approve, reject, withdraw: verifier


NEEDS: dict[Action, frozenset[Role]] = {
    Action.READ: frozenset(Role),
    Action.WRITE: frozenset({Role.OPERATOR}),
    Action.DECIDE: frozenset({Role.VERIFIER}),
}


@dataclasses.dataclass(frozen=True)
class User:
    user_id: str
    name: str
    roles: frozenset[Role]

    @property
    def bootstrap(self) -> bool:
        return self.user_id == BOOTSTRAP_USER_ID

    def may(self, action: Action) -> bool:
        return bool(self.roles & NEEDS[action])


BOOTSTRAP = User(BOOTSTRAP_USER_ID, "bootstrap operator (EPD_FOOTPRINT_ADMIN_TOKEN)", frozenset({Role.OPERATOR}))


@dataclasses.dataclass(frozen=True)
class ApiKey:
    key_id: str
    secret: str


def parse_key(text: str) -> ApiKey | None:
    """The key id and secret of a presented key; None for anything not in the key format."""
    if len(text) > MAX_KEY_CHARS:
        return None
    m = _KEY.fullmatch(text)
    return ApiKey(m.group(1), m.group(2)) if m else None


def new_key() -> tuple[str, ApiKey]:
    """(the key text to hand out once, its parts)."""
    key_id = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}_{key_id}_{secret}", ApiKey(key_id, secret)


def new_user_id() -> str:
    return "usr_" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def parse_roles(values: list[str]) -> frozenset[Role]:
    """Role names to roles; ValueError naming the unknown ones."""
    unknown = sorted(set(values) - {r.value for r in Role})
    if unknown or not values:
        raise ValueError(f"roles are one or more of {', '.join(Role)}; not {unknown or 'none'}")
    return frozenset(Role(v) for v in values)
