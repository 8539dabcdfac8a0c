"""Evidence behind a window: a Merkle root over the SORTED, de-duplicated reading hashes.

Sorting makes the root independent of arrival order, so a replay gives the same root. Tree shape
follows RFC 6962 (leaf = SHA-256(0x00 || hash), node = SHA-256(0x01 || left || right), an odd node
is promoted unchanged), which avoids the duplicated-last-leaf ambiguity. Empty set: SHA-256 of "".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def is_reading_hash(value: str) -> bool:
    return isinstance(value, str) and bool(HEX64.fullmatch(value))


def leaf(reading_hash: str) -> bytes:
    """The leaf digest of one hash; raises ValueError for a malformed hash."""
    if not is_reading_hash(reading_hash):
        raise ValueError(f"not a lowercase hex SHA-256: {reading_hash[:70]!r}")
    return valid_leaf(reading_hash)


def valid_leaf(reading_hash: str) -> bytes:
    """`leaf` of a hash already known to be lowercase hex SHA-256 (is_reading_hash)."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(reading_hash)).digest()


def merkle_root(hashes: Iterable[str]) -> str:
    """Hex root over lowercase hex SHA-256 hashes; raises ValueError for a malformed hash."""
    return root_of_leaves([leaf(h) for h in sorted(set(hashes))])


def root_of_leaves(level: list[bytes]) -> str:
    """Hex root over leaf digests already in the order of their sorted hashes."""
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()
