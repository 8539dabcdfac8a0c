"""Merkle trees of the programme's evidence, and inclusion paths through them (pure).

One tree shape everywhere (the intensity service's windows use it too): the leaves are the SORTED,
de-duplicated 64-hex hashes; leaf digest = SHA-256(0x00 || hash bytes), node = SHA-256(0x01 || left
|| right), an odd node at the end of a level is promoted unchanged (RFC 6962 prefixes, without its
split rule); no leaf: SHA-256 of the empty string. Levels of the programme:

- a reading's hash is a leaf of its hourly window (the window's `merkle_root`);
- an hourly window's root is a leaf of every derived window (daily, 30-day) containing that hour;
- a version's evidence links are leaves of the version's `evidence_root`, each as
  `evidence_leaf(window_id, revision, merkle_root)` = SHA-256 of "<window_id>\\n<revision>\\n<root>".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from epd_records.errors import ProofError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
LEFT, RIGHT = "left", "right"


def is_hash(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX64.fullmatch(value))


def _bytes(value: str, what: str) -> bytes:
    if not is_hash(value):
        raise ProofError(f"{what} is not a lower-case hex SHA-256: {str(value)[:70]!r}")
    return bytes.fromhex(value)


def leaf_digest(value: str) -> bytes:
    return hashlib.sha256(b"\x00" + _bytes(value, "leaf")).digest()


def node_digest(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _levels(hashes: Iterable[str]) -> list[list[bytes]]:
    level = [leaf_digest(h) for h in sorted(set(hashes))]
    levels = [level]
    while len(level) > 1:
        nxt = [node_digest(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
        level = nxt
    return levels


def merkle_root(hashes: Iterable[str]) -> str:
    """Hex root over 64-hex hashes (sorted and de-duplicated here)."""
    levels = _levels(hashes)
    return levels[-1][0].hex() if levels[0] else hashlib.sha256(b"").hexdigest()


def merkle_path(hashes: Iterable[str], target: str) -> list[dict[str, str]]:
    """The siblings from `target`'s leaf up to the root: [{side, hash}], `side` where the sibling sits."""
    ordered = sorted(set(hashes))
    if target not in ordered:
        raise ProofError(f"{target[:16]}... is not a leaf of this tree")
    index, path = ordered.index(target), []
    for level in _levels(ordered)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append({"side": LEFT if sibling < index else RIGHT, "hash": level[sibling].hex()})
        index //= 2
    return path


def fold_path(leaf: str, path: Sequence[Mapping[str, Any]]) -> str:
    """The root a path leads to from `leaf` (a 64-hex hash); ProofError for a malformed step."""
    node = leaf_digest(leaf)
    if not isinstance(path, Sequence) or len(path) > 64:
        raise ProofError("a path is a list of at most 64 steps")
    for i, step in enumerate(path):
        side = step.get("side") if isinstance(step, Mapping) else None
        sibling = _bytes(step.get("hash", "") if isinstance(step, Mapping) else "", f"step {i} hash")
        if side == LEFT:
            node = node_digest(sibling, node)
        elif side == RIGHT:
            node = node_digest(node, sibling)
        else:
            raise ProofError(f"step {i}: side must be {LEFT!r} or {RIGHT!r}")
    return node.hex()


def evidence_leaf(window_id: str, revision: int, root: str) -> str:
    """The leaf (64 hex) of one evidence link in a version's evidence tree."""
    return hashlib.sha256(f"{window_id}\n{int(revision)}\n{root}".encode()).hexdigest()


def evidence_root(links: Iterable[tuple[str, int, str]]) -> str:
    """Root over a version's evidence links (window_id, revision, merkle_root); '' without links."""
    leaves = [evidence_leaf(w, r, m) for w, r, m in links]
    return merkle_root(leaves) if leaves else ""
