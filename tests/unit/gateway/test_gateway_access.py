"""Pure access pieces: tokens, pagination cursors, token buckets, client-secret hashes, filter parsing."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import jwt as pyjwt
import pytest

from epd_common import crypto as secrets
from epd_gateway import cursor, tokens
from epd_gateway.query import FilterError, normalise, parse_filters
from epd_gateway.ratelimit import retry_after
from epd_records.signing import new_key_ring, rotate
from epd_records.status import PactStatus

ISS, AUD = "https://gw.example", "epd-gateway"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def issue(ring, **kw):
    args = dict(
        client_id="c",
        partner_id="p",
        scopes=frozenset({"footprint:list"}),
        issuer=ISS,
        audience=AUD,
        ttl_seconds=600,
        now=1_000_000,
    )
    args.update(kw)
    return tokens.issue(ring, **args)


def test_token_round_trip_and_rotation():
    ring = new_key_ring()
    token = issue(ring)
    assert tokens.verify(token, ring, issuer=ISS, audience=AUD, now=1_000_100).partner_id == "p"
    # Tokens signed just before a rotation still verify (the old key is retired, not dropped; for a grace).
    assert tokens.verify(token, rotate(ring), issuer=ISS, audience=AUD, now=1_000_100).client_id == "c"


@pytest.mark.parametrize("case", ["expired", "audience", "issuer", "none", "hs256", "tampered", "foreign", "junk"])
def test_bad_tokens(case):
    ring = new_key_ring()
    good = issue(ring)
    claims = {"iss": ISS, "sub": "c", "aud": AUD, "exp": 1_000_600, "scope": "footprint:list", "partner_id": "p"}
    bad = {
        "expired": good,
        "audience": issue(ring, audience="other"),
        "issuer": issue(ring, issuer="https://evil"),
        "none": f"{_b64({'alg': 'none'})}.{_b64(claims)}.",
        "hs256": pyjwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": ring.kid}),
        "tampered": good.split(".")[0] + "." + _b64({**claims, "partner_id": "q"}) + "." + good.split(".")[2],
        "foreign": issue(new_key_ring()),
        "junk": "a.b.c",
    }[case]
    now = 1_001_000 if case == "expired" else 1_000_100
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(bad, ring, issuer=ISS, audience=AUD, now=now)
    assert err.value.expired is (case == "expired")


def _signed(ring, header: dict, claims: dict) -> str:
    from joserfc import jwt as jose_jwt

    from epd_records.signing import EDDSA_ONLY

    return jose_jwt.encode(header, claims, ring.current, registry=EDDSA_ONLY)


def test_a_token_must_say_it_is_an_access_token_and_live_at_most_15_minutes():
    ring = new_key_ring()
    claims = {"iss": ISS, "sub": "c", "aud": AUD, "scope": "footprint:list", "partner_id": "p", "iat": 1_000_000}
    ok = _signed(ring, {"alg": "EdDSA", "kid": ring.kid, "typ": "at+jwt"}, {**claims, "exp": 1_000_900})
    assert tokens.verify(ok, ring, issuer=ISS, audience=AUD, now=1_000_100).client_id == "c"
    century = _signed(ring, {"alg": "EdDSA", "kid": ring.kid, "typ": "at+jwt"}, {**claims, "exp": 4_200_000_000})
    untyped = _signed(ring, {"alg": "EdDSA", "kid": ring.kid}, {**claims, "exp": 1_000_900})
    id_token = _signed(ring, {"alg": "EdDSA", "kid": ring.kid, "typ": "JWT"}, {**claims, "exp": 1_000_900})
    no_iat = _signed(
        ring,
        {"alg": "EdDSA", "kid": ring.kid, "typ": "at+jwt"},
        {"exp": 1_000_900, **{k: v for k, v in claims.items() if k != "iat"}},
    )
    for bad, why in ((century, "lifetime"), (untyped, "at\\+jwt"), (id_token, "at\\+jwt"), (no_iat, "iat")):
        with pytest.raises(tokens.TokenError, match=why):
            tokens.verify(bad, ring, issuer=ISS, audience=AUD, now=1_000_100)


def test_tokens_of_a_retired_key_are_refused_after_a_grace():
    from epd_records.signing import KeyRing

    ring = new_key_ring()
    token = issue(ring, now=1_000_000, ttl_seconds=900)
    rotated = rotate(ring)
    retired_at = {ring.kid: 1_000_050.0}
    rotated = KeyRing(rotated.current, rotated.retired, retired_at)
    assert tokens.verify(token, rotated, issuer=ISS, audience=AUD, now=1_000_080).client_id == "c"  # in grace
    late = 1_000_050 + tokens.RETIRED_KEY_GRACE_SECONDS + 1  # the token itself is still unexpired
    with pytest.raises(tokens.TokenError, match="retired key"):
        tokens.verify(token, rotated, issuer=ISS, audience=AUD, now=late)


def test_cursor_is_bound_to_filters_and_expires_and_resists_tampering():
    key = secrets.derive_key("a-secret-of-sixteen+", "cursor")
    pos = cursor.Position(datetime(2026, 1, 1, tzinfo=UTC), "6f1c2a3e-8d4b-4c1a-9f00-2b7e5d9a1c01")
    digest = cursor.filters_digest("client", {"status": ["published"]})
    token = cursor.encode(key, pos, digest, 180, now=0)
    assert cursor.decode(key, token, digest, now=179) == pos
    with pytest.raises(cursor.CursorError, match="expired"):
        cursor.decode(key, token, digest, now=181)
    with pytest.raises(cursor.CursorError, match="another client"):
        cursor.decode(key, token, cursor.filters_digest("other", {}), now=1)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (flipped, "", "!!!", "x" * 500):
        with pytest.raises(cursor.CursorError):
            cursor.decode(key, bad, digest, now=1)


def test_a_remembered_token_is_still_checked_against_the_clock_and_the_keys(monkeypatch):
    ring = new_key_ring()
    token = issue(ring, now=1_000_000, ttl_seconds=600)
    verified = tokens._verify_signed  # counting the full verifications
    calls = []
    monkeypatch.setattr(tokens, "_verify_signed", lambda *a, **kw: calls.append(1) or verified(*a, **kw))
    for now in (1_000_100, 1_000_200, 1_000_300):
        assert tokens.verify(token, ring, issuer=ISS, audience=AUD, now=now).client_id == "c"
    assert len(calls) == 1  # verified once, remembered after
    with pytest.raises(tokens.TokenError) as err:  # remembered, and expired all the same
        tokens.verify(token, ring, issuer=ISS, audience=AUD, now=1_000_600 + 5)
    assert err.value.expired
    with pytest.raises(tokens.TokenError, match=r"invalid|iat"):  # a clock before its issue: refused
        tokens.verify(token, ring, issuer=ISS, audience=AUD, now=1_000_000 - 10)
    for issuer, audience in ((ISS, "other"), ("https://evil", AUD)):  # other claims: verified in full, refused
        with pytest.raises(tokens.TokenError):
            tokens.verify(token, ring, issuer=issuer, audience=audience, now=1_000_100)
    with pytest.raises(tokens.TokenError):  # another ring (a foreign key): verified in full, refused
        tokens.verify(token, new_key_ring(), issuer=ISS, audience=AUD, now=1_000_100)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(tokens.TokenError):
        tokens.verify(tampered, ring, issuer=ISS, audience=AUD, now=1_000_100)


def test_remembered_tokens_are_bounded():
    ring = new_key_ring()
    for i in range(tokens.VERIFIED_CACHE_SIZE + 10):
        tokens.verify(issue(ring, client_id=f"c{i}"), ring, issuer=ISS, audience=AUD, now=1_000_100)
    assert len(tokens._VERIFIED) <= tokens.VERIFIED_CACHE_SIZE


def test_retry_after_rounds_up():
    assert [retry_after(0.01), retry_after(1.0), retry_after(1.2)] == ["1", "1", "2"]


def test_client_secret_hash():
    stored = secrets.hash_secret("s3cret")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert secrets.check_secret("s3cret", stored)
    assert not secrets.check_secret("s3cres", stored)
    assert not secrets.check_secret("s3cret", "garbage")
    assert not secrets.check_secret("x" * 10_000, stored)


def test_private_key_encryption_is_authenticated():
    key = secrets.derive_key("a-secret-of-sixteen+", "signing-keys")
    nonce, ct = secrets.encrypt(key, b"private", b"kid")
    assert secrets.decrypt(key, nonce, ct, b"kid") == b"private"
    with pytest.raises(secrets.DecryptError):
        secrets.decrypt(key, nonce, ct, b"other-kid")
    with pytest.raises(secrets.DecryptError):
        secrets.decrypt(secrets.derive_key("another-secret-16chars", "signing-keys"), nonce, ct, b"kid")


def test_filter_parsing():
    f = parse_filters(
        {
            "productId": ["URN:pact:x:product-id:A", "urn:pact:x:product-id:a"],
            "status": ["active"],
            "validOn": ["2026-01-01T00:00:00Z"],
        }
    )
    assert f.product_ids == ("urn:pact:x:product-id:a",) and f.statuses == (PactStatus.ACTIVE,)
    assert f.valid_on == datetime(2026, 1, 1, tzinfo=UTC) and not f.matches_nothing
    assert parse_filters({"status": ["DEPRECATED"]}).statuses == (PactStatus.DEPRECATED,)
    assert parse_filters({"productId": ["urn:pact:x:product-id:a%20b"]}).product_id_candidates(
        "urn:pact:x:product-id:"
    ) == ("a b", "urn:pact:x:product-id:a%20b")
    for bad in (
        {"validOn": ["2026-13-01T00:00:00Z"]},
        {"validOn": ["a", "b"]},
        {"companyId": ["urn:x:" + "a" * 600]},
        {"geography": ["x"] * 101},
    ):
        with pytest.raises(FilterError):
            parse_filters(bad)


def test_values_that_cannot_match_match_nothing_and_repeated_values_are_ored():
    """PACT: a filter value that matches nothing is not an error; values of one criterion are OR'd."""
    assert parse_filters({"status": ["Bogus"]}).matches_nothing
    assert parse_filters({"productId": ["nope"]}).matches_nothing
    assert parse_filters({"geography": [""]}).matches_nothing
    assert parse_filters({"companyId": ["urn:x:a\x00"]}).matches_nothing  # NUL never reaches PostgreSQL
    mixed = parse_filters({"companyId": ["urn:pact:company:a", "abc"], "status": ["Active", "nope"]})
    assert mixed.company_ids == ("urn:pact:company:a",) and mixed.statuses == (PactStatus.ACTIVE,)
    assert not mixed.matches_nothing
    both = parse_filters({"status": ["active", "Deprecated"]}).statuses
    assert both == (PactStatus.ACTIVE, PactStatus.DEPRECATED)


def test_parameter_names_are_matched_case_insensitively():
    """The spec's own example spells them productid and validon."""
    params = normalise(
        [
            ("productid", "urn:a:1"),
            ("productId", "urn:a:2"),
            ("VALIDON", "2026-01-01T00:00Z"),
            ("x-atq-invoice-id", "1"),
            ("limit", "5"),
        ]
    )
    assert params == {"productId": ["urn:a:1", "urn:a:2"], "validOn": ["2026-01-01T00:00Z"]}


def test_cursor_reveals_neither_the_id_nor_the_time_of_the_last_row_scanned():
    """The last row scanned may be a record the client cannot read: the cursor is sealed, not just signed."""
    key = secrets.derive_key("a-secret-of-sixteen+", "cursor")
    hidden = "0b6a7c1e-5f3d-4e2a-8c9b-7d1e2f3a4b5c"
    pos = cursor.Position(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), hidden)
    digest = cursor.filters_digest("client", {})
    token = cursor.encode(key, pos, digest, 900, now=0)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for leak in (hidden.encode(), b"2026-03-04", b"05:06:07", digest.encode(), hidden.replace("-", "").encode()):
        assert leak not in raw and leak.decode() not in token
    assert cursor.encode(key, pos, digest, 900, now=0) != token  # a fresh nonce each time: not even linkable
    assert cursor.decode(key, token, digest, now=1) == pos
    with pytest.raises(cursor.CursorError, match="not one this gateway issued"):
        cursor.decode(secrets.derive_key("another-secret-of-16", "cursor"), token, digest, now=1)
