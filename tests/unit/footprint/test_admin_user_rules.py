"""Admin API users without I/O: key format and parsing, scrypt hashing of the secret, role rules, the
TLS rule of the admin API's settings."""

from __future__ import annotations

import pytest

from epd_common import crypto
from epd_footprint.settings import FootprintSettings
from epd_footprint.users import (
    BOOTSTRAP,
    MAX_KEY_CHARS,
    Action,
    Role,
    User,
    new_key,
    new_user_id,
    parse_key,
    parse_roles,
)

TOKEN = "unit-bootstrap-token-0123456789"


def test_a_new_key_parses_back_and_only_its_secret_is_hashed():
    text, key = new_key()
    assert text.startswith("epdk_") and len(text) == 65
    assert parse_key(text) == key
    stored = crypto.hash_secret(key.secret)
    assert key.secret not in stored and crypto.check_secret(key.secret, stored)
    assert not crypto.check_secret(new_key()[1].secret, stored)
    assert new_key()[0] != text and new_user_id() != new_user_id()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "epdk",
        "epdk__",
        "Bearer epdk_0123456789abcdef_" + "a" * 43,
        "epdk_0123456789ABCDEF_" + "a" * 43,  # key ids are lower case
        "epdk_0123456789abcde_" + "a" * 43,  # 15 characters
        "epdk_0123456789abcdef_" + "a" * 42,
        "epdk_0123456789abcdef_" + "a" * 44,
        "epdk_0123456789abcdef_" + "a" * 42 + "é",
        "epdk_0123456789abcdef_" + "a" * 42 + "\x00",
        "epdk_0123456789abcdef_" + "a" * 43 + "\n",
        "epdk_０123456789abcdef_" + "a" * 43,  # a full-width digit
        "epdk_0123456789abcdef_" + "a" * 43 + "x" * MAX_KEY_CHARS,
        "x" * 100_000,
    ],
)
def test_anything_but_a_key_is_refused_by_the_parser(text):
    assert parse_key(text) is None


def test_roles_and_what_they_may_do():
    operator = User("usr_a", "A", frozenset({Role.OPERATOR}))
    verifier = User("usr_b", "B", frozenset({Role.VERIFIER}))
    auditor = User("usr_c", "C", frozenset({Role.AUDITOR}))
    both = User("usr_d", "D", frozenset({Role.OPERATOR, Role.VERIFIER}))
    assert [u.may(Action.READ) for u in (operator, verifier, auditor, both)] == [True] * 4
    assert [u.may(Action.WRITE) for u in (operator, verifier, auditor, both)] == [True, False, False, True]
    assert [u.may(Action.DECIDE) for u in (operator, verifier, auditor, both)] == [False, True, False, True]
    # The legacy token is an operator that never decides.
    assert BOOTSTRAP.bootstrap and BOOTSTRAP.may(Action.WRITE) and not BOOTSTRAP.may(Action.DECIDE)


def test_role_names():
    assert parse_roles(["verifier", "operator", "verifier"]) == {Role.VERIFIER, Role.OPERATOR}
    for bad in ([], ["admin"], ["Operator"], ["verifier", "root"]):
        with pytest.raises(ValueError, match="roles are one or more of"):
            parse_roles(bad)


def _settings(**env: str) -> FootprintSettings:
    return FootprintSettings.model_validate({"EPD_FOOTPRINT_ADMIN_TOKEN": TOKEN, **env})


def test_the_admin_api_refuses_plain_http_off_loopback(tmp_path):
    assert _settings().admin_host == "127.0.0.1"
    assert _settings(EPD_FOOTPRINT_ADMIN_HOST="::1").admin_tls_cert_file is None
    with pytest.raises(ValueError, match="clear text"):
        _settings(EPD_FOOTPRINT_ADMIN_HOST="0.0.0.0")
    assert _settings(EPD_FOOTPRINT_ADMIN_HOST="0.0.0.0", EPD_FOOTPRINT_ADMIN_ALLOW_PLAINTEXT="true")
    tls = {"EPD_FOOTPRINT_ADMIN_TLS_CERT_FILE": str(tmp_path / "c.pem"), "EPD_FOOTPRINT_ADMIN_TLS_KEY_FILE": ""}
    with pytest.raises(ValueError, match="set both"):
        _settings(EPD_FOOTPRINT_ADMIN_HOST="0.0.0.0", **tls)
    tls["EPD_FOOTPRINT_ADMIN_TLS_KEY_FILE"] = str(tmp_path / "k.pem")
    assert _settings(EPD_FOOTPRINT_ADMIN_HOST="0.0.0.0", **tls).admin_tls_key_file == tmp_path / "k.pem"
