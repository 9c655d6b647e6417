"""The Merkle tree of RFC 9162 §2.1 (Certificate Transparency v2), SHA-256.

Framework-free. Hashes are ``bytes`` of 32; callers convert to hex at their edges.

- leaf hash  ``SHA-256(0x00 ‖ data)``, node hash ``SHA-256(0x01 ‖ left ‖ right)``,
  the root of the empty tree ``SHA-256("")``;
- a tree of n > 1 leaves splits at k, the largest power of two smaller than n.

Proof generation asks a ``SubtreeHash`` function for the hash of a range of
leaves ``[start, end)``; every range a proof needs is aligned (see
``perfect_subtrees``), so it is made of O(log n) *perfect* subtrees: a store of
their hashes (``archive.ledger`` keeps one in the database) answers any proof in
O(log n) through ``stored_subtree_hash``. The functions taking a list of leaf
hashes hash the ranges on demand instead (O(n) per proof), the reference the
store is tested against. Verification (§2.1.3.2 and §2.1.4.2) needs nothing but
the proof.

A perfect subtree is named ``(level, index)``: the 2**level leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 is a leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# hash of the leaves [start, end) of the tree, 0 <= start < end
SubtreeHash = Callable[[int, int], bytes]
# (level, index): the perfect subtree of the leaves [index * 2**level, (index + 1) * 2**level)
Node = tuple[int, int]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class RootAccumulator:
    """The root of a growing tree in O(log n) memory: append leaf hashes in order.

    It keeps the perfect subtrees of the tree so far (its "compact range", the
    ``frontier``), so a verifier can stream millions of entries and ask for the
    root at any size, and a writer can resume it from a stored frontier.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (leaf count, hash), sizes strictly decreasing
        self.size = 0

    @classmethod
    def resume(cls, size: int, frontier: Sequence[bytes]) -> RootAccumulator:
        """The accumulator of a tree of ``size`` leaves from its ``frontier`` (as ``frontier`` returned it)."""
        sizes = [1 << level for level in reversed(range(size.bit_length())) if size >> level & 1]
        if size < 0 or len(frontier) != len(sizes) or not _well_formed(*frontier):
            raise ValueError(f"a tree of {size} leaves has a frontier of {len(sizes)} hashes of {HASH_SIZE} bytes")
        accumulator = cls()
        accumulator._stack = list(zip(sizes, frontier, strict=True))
        accumulator.size = size
        return accumulator

    @property
    def frontier(self) -> list[bytes]:
        """The hashes of the perfect subtrees that make up the tree so far, the largest (leftmost) first."""
        return [value for _size, value in self._stack]

    def append(self, leaf: bytes) -> list[bytes]:
        """Adds the next leaf; returns the hashes of the perfect subtrees it completes, level 1 upwards.

        The leaf of index i completes the subtree of level l (l >= 1) iff 2**l divides i + 1:
        the subtree ``(l, (i + 1) // 2**l - 1)``.
        """
        size, value = 1, leaf
        completed: list[bytes] = []
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, value = left_size + size, node_hash(left, value)
            completed.append(value)
        self._stack.append((size, value))
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        value = self._stack[-1][1]
        for _size, left in reversed(self._stack[:-1]):
            value = node_hash(left, value)
        return value


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 §2.1.1 over the given leaf hashes."""
    accumulator = RootAccumulator()
    for leaf in leaf_hashes:
        accumulator.append(leaf)
    return accumulator.root()


def list_subtree_hash(leaf_hashes: Sequence[bytes]) -> SubtreeHash:
    """A ``SubtreeHash`` over leaf hashes held in memory."""

    def subtree(start: int, end: int) -> bytes:
        return root(leaf_hashes[start:end])

    return subtree


# --- Ranges as stored perfect subtrees -----------------------------------------


def perfect_subtrees(start: int, end: int) -> list[Node]:
    """The perfect subtrees MTH(D[start:end]) is made of, left to right, as ``(level, index)``.

    The range must be aligned as every range of an RFC 9162 proof or root is:
    ``start`` a multiple of the smallest power of two >= ``end - start``. Then
    the pieces are the binary digits of ``end - start``, largest first, and
    MTH(D[start:end]) = node(P1, node(P2, … node(Pm-1, Pm))).
    """
    length = end - start
    if not 0 <= start < end or start % (1 << (length - 1).bit_length()):
        raise ValueError(f"[{start}, {end}) is not a range of an RFC 9162 tree (empty, or not aligned)")
    nodes: list[Node] = []
    position = start
    for level in reversed(range(length.bit_length())):
        if length >> level & 1:
            nodes.append((level, position >> level))
            position += 1 << level
    return nodes


def stored_subtree_hash(nodes: Mapping[Node, bytes]) -> SubtreeHash:
    """A ``SubtreeHash`` that folds stored perfect-subtree hashes (``nodes[(level, index)]``).

    Each range costs one hash per piece beyond the first; ranges sharing a right
    edge (as a proof's do) share their folds, so a whole proof is O(log n) hashes.
    """
    folds: dict[tuple[int, int], bytes] = {}  # (start, end) -> hash of a range ending at a shared right edge

    def subtree(start: int, end: int) -> bytes:
        pieces = perfect_subtrees(start, end)
        value = nodes[pieces[-1]]
        for level, index in reversed(pieces[:-1]):
            key = (index << level, end)
            folded = folds.get(key)
            if folded is None:
                folded = folds[key] = node_hash(nodes[(level, index)], value)
            value = folded
        return value

    return subtree


def needed_subtrees(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    """Every perfect subtree the hashes of ``ranges`` are folded from."""
    return {node for start, end in ranges for node in perfect_subtrees(start, end)}


# --- Inclusion (RFC 9162 §2.1.3) -----------------------------------------------


def inclusion_proof(index: int, tree_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[tree_size]) from the first ``tree_size`` of ``leaf_hashes``."""
    if tree_size > len(leaf_hashes):
        raise ValueError(f"tree size {tree_size} exceeds the {len(leaf_hashes)} leaves given")
    return inclusion_proof_from(index, tree_size, list_subtree_hash(leaf_hashes))


def inclusion_proof_from(index: int, tree_size: int, subtree: SubtreeHash) -> list[bytes]:
    return [subtree(start, end) for start, end in inclusion_ranges(index, tree_size)]


def inclusion_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[start, end)`` whose hashes make up PATH(index, D[tree_size]), in proof order."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of size {tree_size}")
    ranges: list[tuple[int, int]] = []
    start, end, m = 0, tree_size, index
    # Walk down from the root; siblings are found top-down, the proof lists them bottom-up.
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m = start + k, m - k
    ranges.reverse()
    return ranges


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show ``leaf`` at ``index`` in the tree of ``root_hash``?"""
    if not (0 <= index < tree_size) or not _well_formed(leaf, root_hash, *proof):
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


# --- Consistency (RFC 9162 §2.1.4) ---------------------------------------------


def consistency_proof(old_size: int, new_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[new_size]) from the first ``new_size`` of ``leaf_hashes``.

    Empty when old_size is 0 or equal to new_size: nothing needs proving then.
    """
    if new_size > len(leaf_hashes):
        raise ValueError(f"tree size {new_size} exceeds the {len(leaf_hashes)} leaves given")
    return consistency_proof_from(old_size, new_size, list_subtree_hash(leaf_hashes))


def consistency_proof_from(old_size: int, new_size: int, subtree: SubtreeHash) -> list[bytes]:
    return [subtree(start, end) for start, end in consistency_ranges(old_size, new_size)]


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[start, end)`` whose hashes make up PROOF(old_size, D[new_size]), in proof order."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, new_size, old_size, True
    # SUBPROOF(m, D[start:end], complete), unrolled.
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of ``new_root`` an append-only extension of ``old_root``?"""
    if not 0 <= old_size <= new_size or not _well_formed(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


def _well_formed(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)
