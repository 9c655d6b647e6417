"""The Merkle tree against the RFC 6962 / RFC 9162 vectors, and its properties."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive import merkle

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "merkle-vectors" / "rfc6962.json").read_text())
LEAVES = [merkle.leaf_hash(bytes.fromhex(leaf)) for leaf in VECTORS["leaves_hex"]]
ROOTS = [bytes.fromhex(root) for root in VECTORS["root_hex_by_tree_size"]]
OTHER_HASH = hashlib.sha256(b"some other hash").digest()


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def reference_root(hashes: Sequence[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 defines it, recursively."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return merkle.node_hash(reference_root(hashes[:k]), reference_root(hashes[k:]))


def flipped(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


def proof_mutations(proof: list[bytes]) -> list[tuple[str, list[bytes]]]:
    """Every way of spoiling a proof that a verifier must notice."""
    mutations = [
        (f"bit flipped in element {i}", [*proof[:i], flipped(p), *proof[i + 1 :]]) for i, p in enumerate(proof)
    ]
    mutations += [
        ("element added at the end", [*proof, OTHER_HASH]),
        ("element added at the front", [OTHER_HASH, *proof]),
        ("empty element added", [*proof, b""]),
    ]
    if proof:
        mutations += [("last element removed", proof[:-1]), ("first element removed", proof[1:])]
    if len(proof) > 1:
        mutations += [("first two elements swapped", [proof[1], proof[0], *proof[2:]])]
    return [(name, mutated) for name, mutated in mutations if mutated != proof]


# --- The vectors ---------------------------------------------------------------


def test_the_leaf_and_node_hashes_are_domain_separated() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_the_root_of_every_vector_tree_size_matches(size: int) -> None:
    assert merkle.root(LEAVES[:size]) == ROOTS[size]


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"leaf{v['leaf_index']}-of-{v['tree_size']}")
def test_it_produces_and_accepts_each_published_inclusion_proof(vector: dict[str, Any]) -> None:
    index, size = vector["leaf_index"], vector["tree_size"]
    path = [bytes.fromhex(p) for p in vector["path_hex"]]

    assert merkle.inclusion_proof(index, size, LEAVES) == path
    assert merkle.verify_inclusion(LEAVES[index], index, size, path, ROOTS[size])


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"leaf{v['leaf_index']}-of-{v['tree_size']}")
def test_it_rejects_every_mutation_of_a_published_inclusion_proof(vector: dict[str, Any]) -> None:
    index, size = vector["leaf_index"], vector["tree_size"]
    path = [bytes.fromhex(p) for p in vector["path_hex"]]
    leaf, root = LEAVES[index], ROOTS[size]

    for wrong_index in (index - 1, index + 1, index ^ 2, size, -1):
        assert not merkle.verify_inclusion(leaf, wrong_index, size, path, root), f"index {wrong_index}"
    for wrong_size in (size * 2, size // 2, 0):
        assert not merkle.verify_inclusion(leaf, index, wrong_size, path, root), f"size {wrong_size}"
    assert not merkle.verify_inclusion(flipped(leaf), index, size, path, root), "wrong leaf"
    for wrong_root in (merkle.EMPTY_ROOT, OTHER_HASH, flipped(root)):
        assert not merkle.verify_inclusion(leaf, index, size, path, wrong_root), "wrong root"
    for name, mutated in proof_mutations(path):
        assert not merkle.verify_inclusion(leaf, index, size, mutated, root), name


@pytest.mark.parametrize("vector", VECTORS["consistency"], ids=lambda v: f"{v['old_size']}-to-{v['new_size']}")
def test_it_produces_and_accepts_each_published_consistency_proof(vector: dict[str, Any]) -> None:
    old, new = vector["old_size"], vector["new_size"]
    path = [bytes.fromhex(p) for p in vector["path_hex"]]

    assert merkle.consistency_proof(old, new, LEAVES) == path
    assert merkle.verify_consistency(old, new, ROOTS[old], ROOTS[new], path)


@pytest.mark.parametrize("vector", VECTORS["consistency"], ids=lambda v: f"{v['old_size']}-to-{v['new_size']}")
def test_it_rejects_every_mutation_of_a_published_consistency_proof(vector: dict[str, Any]) -> None:
    old, new = vector["old_size"], vector["new_size"]
    path = [bytes.fromhex(p) for p in vector["path_hex"]]
    old_root, new_root = ROOTS[old], ROOTS[new]

    for wrong_old in (old - 1, old + 1, old ^ 2, new + 1, -1):
        assert not merkle.verify_consistency(wrong_old, new, old_root, new_root, path), f"old size {wrong_old}"
    # A proof fixes the tree's shape, not its exact size (sizes 7 and 8 can share
    # a path): the size is bound by the signature over (size, root) in a checkpoint.
    for wrong_new in (new * 2, new // 2):
        assert not merkle.verify_consistency(old, wrong_new, old_root, new_root, path), f"new size {wrong_new}"
    assert not merkle.verify_consistency(old, new, new_root, old_root, path), "roots swapped"
    for wrong in (merkle.EMPTY_ROOT, OTHER_HASH):
        assert not merkle.verify_consistency(old, new, wrong, new_root, path), "wrong old root"
        assert not merkle.verify_consistency(old, new, old_root, wrong, path), "wrong new root"
    for name, mutated in proof_mutations(path):
        assert not merkle.verify_consistency(old, new, old_root, new_root, mutated), name
    assert not merkle.verify_consistency(old, new, old_root, new_root, []), "empty proof"


def test_trees_of_equal_size_or_from_empty_need_an_empty_proof() -> None:
    assert merkle.consistency_proof(8, 8, LEAVES) == []
    assert merkle.consistency_proof(0, 8, LEAVES) == []
    assert merkle.verify_consistency(8, 8, ROOTS[8], ROOTS[8], [])
    assert merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, ROOTS[8], [])

    assert not merkle.verify_consistency(8, 8, ROOTS[8], ROOTS[8], [OTHER_HASH])
    assert not merkle.verify_consistency(8, 8, ROOTS[7], ROOTS[8], [])
    assert not merkle.verify_consistency(0, 8, OTHER_HASH, ROOTS[8], [])
    assert not merkle.verify_consistency(8, 7, ROOTS[8], ROOTS[7], [])


def test_it_refuses_to_prove_outside_the_tree() -> None:
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(8, 8, LEAVES)
    with pytest.raises(ValueError, match="exceeds"):
        merkle.inclusion_proof(0, 9, LEAVES)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(5, 4, LEAVES)


# --- Properties ----------------------------------------------------------------


@given(st.integers(min_value=0, max_value=70))
def test_the_streaming_root_equals_the_rfc_definition_at_every_size(size: int) -> None:
    hashes = leaves(size)
    accumulator = merkle.RootAccumulator()
    assert accumulator.root() == reference_root([])
    for i, leaf in enumerate(hashes, start=1):
        accumulator.append(leaf)
        assert accumulator.root() == reference_root(hashes[:i])
    assert merkle.root(hashes) == reference_root(hashes)


@given(st.data())
def test_every_inclusion_proof_verifies_and_no_other_index_does(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=80), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    hashes = leaves(size)
    root = merkle.root(hashes)
    proof = merkle.inclusion_proof(index, size, hashes)

    assert merkle.verify_inclusion(hashes[index], index, size, proof, root)
    for other in range(size):
        if other != index:
            assert not merkle.verify_inclusion(hashes[index], other, size, proof, root), other


@given(st.data())
def test_a_modified_inclusion_proof_does_not_verify(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=2, max_value=80), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    hashes = leaves(size)
    root = merkle.root(hashes)
    proof = merkle.inclusion_proof(index, size, hashes)
    element = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    spoiled = bytearray(proof[element])
    spoiled[bit // 8] ^= 1 << (bit % 8)

    assert not merkle.verify_inclusion(
        hashes[index], index, size, [*proof[:element], bytes(spoiled), *proof[element + 1 :]], root
    )
    for name, mutated in proof_mutations(proof):
        assert not merkle.verify_inclusion(hashes[index], index, size, mutated, root), name


def test_every_tree_up_to_40_leaves_is_consistent_with_each_of_its_prefixes() -> None:
    hashes = leaves(40)
    roots = [merkle.root(hashes[:n]) for n in range(41)]
    for new in range(41):
        for old in range(new + 1):
            proof = merkle.consistency_proof(old, new, hashes)
            assert merkle.verify_consistency(old, new, roots[old], roots[new], proof), (old, new)
            if 0 < old < new:
                assert not merkle.verify_consistency(old, new, flipped(roots[old]), roots[new], proof), (old, new)
                assert not merkle.verify_consistency(old, new, roots[old], flipped(roots[new]), proof), (old, new)


@given(st.data())
def test_a_modified_consistency_proof_does_not_verify(data: st.DataObject) -> None:
    new = data.draw(st.integers(min_value=2, max_value=60), label="new")
    old = data.draw(st.integers(min_value=1, max_value=new - 1), label="old")
    hashes = leaves(new)
    old_root, new_root = merkle.root(hashes[:old]), merkle.root(hashes)
    proof = merkle.consistency_proof(old, new, hashes)

    for name, mutated in proof_mutations(proof):
        assert not merkle.verify_consistency(old, new, old_root, new_root, mutated), name
    for wrong_old in {old - 1, old + 1} - {0, new}:
        assert not merkle.verify_consistency(wrong_old, new, old_root, new_root, proof), wrong_old


@given(st.data())
def test_a_tree_with_a_changed_leaf_is_not_consistent_with_the_original(data: st.DataObject) -> None:
    new = data.draw(st.integers(min_value=2, max_value=60), label="new")
    old = data.draw(st.integers(min_value=1, max_value=new - 1), label="old")
    changed = data.draw(st.integers(min_value=0, max_value=old - 1), label="changed leaf")
    hashes = leaves(new)
    old_root = merkle.root(hashes[:old])
    rewritten = [*hashes[:changed], merkle.leaf_hash(b"rewritten"), *hashes[changed + 1 :]]

    proof = merkle.consistency_proof(old, new, rewritten)
    assert not merkle.verify_consistency(old, new, old_root, merkle.root(rewritten), proof)


# --- Proofs folded from stored perfect subtrees (the ledger's O(log n) path) -----


def subtree_store(hashes: Sequence[bytes]) -> dict[merkle.Node, bytes]:
    """Every perfect subtree of the tree over ``hashes`` as the ledger stores them: leaves, then completed nodes."""
    store: dict[merkle.Node, bytes] = {}
    accumulator = merkle.RootAccumulator()
    for index, leaf in enumerate(hashes):
        store[(0, index)] = leaf
        for level, value in enumerate(accumulator.append(leaf), start=1):
            store[(level, (index + 1) // (1 << level) - 1)] = value
    return store


def test_the_accumulator_reports_each_perfect_subtree_as_its_last_leaf_completes_it() -> None:
    hashes = leaves(13)
    store = subtree_store(hashes)

    assert sorted(node for node in store if node[0]) == [
        (1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (2, 0), (2, 1), (2, 2), (3, 0)
    ]  # fmt: skip
    for (level, index), value in store.items():
        assert value == reference_root(hashes[index << level : (index + 1) << level])


@pytest.mark.parametrize("size", range(0, 70))
def test_an_accumulator_resumed_from_its_frontier_goes_on_as_the_original(size: int) -> None:
    hashes = leaves(size + 3)
    original = merkle.RootAccumulator()
    for leaf in hashes[:size]:
        original.append(leaf)
    resumed = merkle.RootAccumulator.resume(size, original.frontier)

    assert len(original.frontier) == size.bit_count()
    assert resumed.root() == original.root() == reference_root(hashes[:size])
    for leaf in hashes[size:]:
        assert resumed.append(leaf) == original.append(leaf)
    assert resumed.root() == reference_root(hashes)


def test_an_accumulator_refuses_a_frontier_that_does_not_fit_its_size() -> None:
    frontier = [merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")]
    for size, hashes in [(4, frontier), (3, frontier[:1]), (3, [frontier[0], b"short"]), (-1, [])]:
        with pytest.raises(ValueError, match="frontier"):
            merkle.RootAccumulator.resume(size, hashes)


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"leaf{v['leaf_index']}-of-{v['tree_size']}")
def test_the_published_inclusion_proofs_come_out_of_the_stored_subtrees_byte_for_byte(vector: dict[str, Any]) -> None:
    index, size = vector["leaf_index"], vector["tree_size"]
    store = subtree_store(LEAVES[:size])
    needed = merkle.needed_subtrees(merkle.inclusion_ranges(index, size))
    subtree = merkle.stored_subtree_hash({node: store[node] for node in needed})

    assert merkle.inclusion_proof_from(index, size, subtree) == [bytes.fromhex(p) for p in vector["path_hex"]]


@pytest.mark.parametrize("vector", VECTORS["consistency"], ids=lambda v: f"{v['old_size']}-to-{v['new_size']}")
def test_the_published_consistency_proofs_come_out_of_the_stored_subtrees_byte_for_byte(
    vector: dict[str, Any],
) -> None:
    old, new = vector["old_size"], vector["new_size"]
    store = subtree_store(LEAVES[:new])
    ranges = [*merkle.consistency_ranges(old, new), (0, old), (0, new)]
    subtree = merkle.stored_subtree_hash({node: store[node] for node in merkle.needed_subtrees(ranges)})

    assert merkle.consistency_proof_from(old, new, subtree) == [bytes.fromhex(p) for p in vector["path_hex"]]
    assert (subtree(0, old), subtree(0, new)) == (ROOTS[old], ROOTS[new])


def test_every_proof_up_to_70_leaves_from_the_stored_subtrees_equals_the_proof_from_the_leaves() -> None:
    hashes = leaves(70)
    store = subtree_store(hashes)
    subtree = merkle.stored_subtree_hash(store)
    for size in range(1, 71):
        assert subtree(0, size) == merkle.root(hashes[:size])
        for index in range(size):
            assert merkle.inclusion_proof_from(index, size, subtree) == merkle.inclusion_proof(index, size, hashes)
        for old in range(size + 1):
            assert merkle.consistency_proof_from(old, size, subtree) == merkle.consistency_proof(old, size, hashes)


@given(st.integers(min_value=1, max_value=2**62), st.data())
def test_a_proof_needs_a_logarithmic_number_of_stored_subtrees_however_large_the_tree(
    size: int, data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    old = data.draw(st.integers(min_value=0, max_value=size))
    height = size.bit_length()

    inclusion = merkle.needed_subtrees([*merkle.inclusion_ranges(index, size), (index, index + 1), (0, size)])
    consistency = merkle.needed_subtrees(
        [*merkle.consistency_ranges(old, size), *([(0, old)] if old else []), (0, size)]
    )

    assert len(inclusion) <= 2 * height + 1
    assert len(consistency) <= 3 * height + 1


def test_a_range_no_rfc_proof_uses_is_refused() -> None:
    for start, end in [(1, 3), (2, 5), (3, 3), (4, 2), (-2, 0)]:
        with pytest.raises(ValueError, match="not a range of an RFC 9162 tree"):
            merkle.perfect_subtrees(start, end)
    assert merkle.perfect_subtrees(8, 13) == [(2, 2), (0, 12)]
    assert merkle.perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
