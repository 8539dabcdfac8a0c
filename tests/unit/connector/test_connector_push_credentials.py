"""Push credentials (epd_connector.push_credentials, push_auth): the token format, scrypt hashes in the
file (never the secret), revocation, and the authenticator's decision on every kind of header."""

from __future__ import annotations

import stat

import pytest
from prometheus_client import REGISTRY

from epd_common import crypto
from epd_connector.errors import ConnectorError
from epd_connector.push_auth import PushAuthenticator, Refusal, meters_refused
from epd_connector.push_credentials import (
    CredentialFileError,
    PushCredential,
    editing,
    load_file,
    new_credential,
    parse_file,
    parse_token,
    render_file,
    revoke,
)


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("epd_connector_input_refused_total", {"source": "http", "reason": reason}) or 0.0


def test_a_new_credential_stores_only_an_scrypt_hash_of_its_secret():
    token, cred = new_credential("baotou-smelter", "scada-1", ["m2", "m1", "m1"])
    parsed = parse_token(token)
    assert parsed is not None and parsed.id == cred.id
    assert cred.secret_hash.startswith("scrypt$") and parsed.secret not in render_file([cred]).decode()
    assert crypto.check_secret(parsed.secret, cred.secret_hash)
    assert not crypto.check_secret(parsed.secret[:-1] + "x", cred.secret_hash)
    assert cred.meters == ("m1", "m2") and cred.plant_id == "baotou-smelter" and not cred.revoked


@pytest.mark.parametrize(
    "text",
    [
        "",
        "epdpush",
        "epdpush..",
        "Bearer x",
        "epdpush.abc.def",
        "other.aaaaaaaaaaaaaaaa." + "a" * 43,
        "epdpush.AAAAAAAAAAAAAAAA." + "a" * 43,
        "epdpush.aaaaaaaaaaaaaaaa." + "a" * 42,
        "epdpush.aaaaaaaaaaaaaaaa." + "a" * 42 + "!",
        "epdpush.aaaaaaaaaaaaaaaa." + "a" * 43 + ".x",
    ],
)
def test_anything_but_the_token_format_is_not_a_token(text):
    assert parse_token(text) is None


@pytest.mark.parametrize(
    ("plant", "name", "meters"),
    [("", "n", ()), ("a b", "n", ()), ("p", "", ()), ("p", "x" * 101, ()), ("p", "n", ("bad meter",))],
)
def test_bad_plant_names_or_meters_are_refused(plant, name, meters):
    with pytest.raises(ConnectorError):
        new_credential(plant, name, meters)


def test_file_round_trip_revocation_and_mode(tmp_path):
    path = tmp_path / "sub" / "push.json"
    assert load_file(path) == {}  # no file yet: no credentials
    _, a = new_credential("p1", "a")
    _, b = new_credential("p1", "b")
    with editing(path) as creds:
        creds += [a, b]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with editing(path) as creds:
        creds[:] = revoke(creds, a.id, "laptop lost")
    got = load_file(path)
    assert got[a.id].revoked and got[a.id].revoked_reason == "laptop lost" and not got[b.id].revoked
    first = got[a.id].revoked_at
    again = revoke(list(got.values()), a.id, "twice")
    assert next(c for c in again if c.id == a.id).revoked_at == first  # the first revocation stands
    with pytest.raises(ConnectorError):
        revoke(list(got.values()), "nosuchcredential", "x")


def test_a_failed_edit_writes_nothing(tmp_path):
    path = tmp_path / "push.json"
    _, a = new_credential("p1", "a")
    with editing(path) as creds:
        creds.append(a)
    before = path.read_bytes()
    with pytest.raises(ConnectorError), editing(path) as creds:
        creds[:] = revoke(creds, "nosuchcredential", "x")
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b"{}",
        b'{"version": 2, "credentials": []}',
        b'{"version": 1, "credentials": [{}]}',
        b'{"version": 1, "credentials": [{"id": "x", "plant_id": "p", "name": "n", "secret_hash": "s",'
        b' "created_at": "t"}]}',
        b"\xff\xfe",
    ],
)
def test_a_broken_file_is_an_error_that_names_it(raw):
    with pytest.raises(CredentialFileError, match=r"push\.json"):
        parse_file(raw, "push.json")


@pytest.fixture
def creds(tmp_path):
    path = tmp_path / "push.json"
    tokens = {}
    made = []
    for key, plant, meters in (
        ("good", "p1", ()),
        ("other", "p2", ()),
        ("revoked", "p1", ()),
        ("scoped", "p1", ("m1",)),
    ):
        token, cred = new_credential(plant, key, meters)
        tokens[key] = token
        made.append(cred)
    made = revoke(made, made[2].id, "rotated")
    with editing(path) as stored:
        stored += made
    return path, tokens


async def test_the_authenticator_answers_each_header_with_its_reason(creds):
    path, tokens = creds
    auth = PushAuthenticator(path, "p1")
    unknown = tokens["good"].split(".")[0] + ".zzzzzzzzzzzzzzzz." + tokens["good"].split(".")[2]
    wrong_secret = tokens["good"][:-1] + ("A" if tokens["good"][-1] != "A" else "B")
    cases = [
        (None, 401, "credential_missing"),
        ("   ", 401, "credential_missing"),
        (f"Basic {tokens['good']}", 401, "credential_wrong_scheme"),
        (tokens["good"], 401, "credential_wrong_scheme"),
        ("Bearer", 401, "credential_malformed"),
        ("Bearer not-a-token", 401, "credential_malformed"),
        ("Bearer " + "x" * 600, 401, "credential_malformed"),
        (f"Bearer {unknown}", 401, "credential_invalid"),
        (f"Bearer {wrong_secret}", 401, "credential_invalid"),
        (f"Bearer {tokens['revoked']}", 401, "credential_revoked"),
        (f"Bearer {tokens['other']}", 403, "wrong_plant"),
    ]
    for header, status, reason in cases:
        before = refused(reason)
        out = await auth.authenticate(header)
        assert isinstance(out, Refusal) and (out.status, out.reason) == (status, reason), (header, out)
        assert refused(reason) == before + 1, reason
    good = await auth.authenticate(f"bearer  {tokens['good']}")
    assert isinstance(good, PushCredential) and good.name == "good"


async def test_revocation_and_a_broken_file_take_effect_without_a_restart(creds):
    path, tokens = creds
    auth = PushAuthenticator(path, "p1")
    header = f"Bearer {tokens['good']}"
    assert isinstance(await auth.authenticate(header), PushCredential)
    assert isinstance(await auth.authenticate(header), PushCredential)  # the remembered check
    with editing(path) as stored:
        stored[:] = revoke(stored, parse_token(tokens["good"]).id, "leaked")
    out = await auth.authenticate(header)
    assert isinstance(out, Refusal) and out.reason == "credential_revoked"
    path.write_text("{broken")
    out = await auth.authenticate(f"Bearer {tokens['scoped']}")
    assert isinstance(out, Refusal) and out.reason == "credential_invalid"  # fail closed
    path.unlink()
    out = await auth.authenticate(f"Bearer {tokens['scoped']}")
    assert isinstance(out, Refusal) and out.reason == "credential_invalid"


async def test_a_scoped_credential_pushes_only_its_meters(creds):
    path, tokens = creds
    scoped = await PushAuthenticator(path, "p1").authenticate(f"Bearer {tokens['scoped']}")
    assert isinstance(scoped, PushCredential)
    assert meters_refused(scoped, ["m1", "m1"]) is None
    out = meters_refused(scoped, ["m1", "m2"])
    assert out is not None and (out.status, out.reason) == (403, "meter_not_allowed") and "m2" in out.message


def test_a_missing_credential_file_stops_the_start(tmp_path):
    with pytest.raises(ConnectorError, match="push-credential add"):
        PushAuthenticator(tmp_path / "none.json", "p1")
