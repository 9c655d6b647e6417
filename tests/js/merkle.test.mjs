// RFC 9162 inclusion proofs as the receipt check verifies them, over trees of 1 to 33 leaves.

import assert from "node:assert/strict";
import { test } from "node:test";

import { inclusionProof, leafHash, merkleRoot, verifyInclusion } from "../../frontend/js/sealing/merkle.js";
import { utf8 } from "../../frontend/js/sealing/bytes.js";

test("every leaf's proof verifies, and no other leaf, changed node or other root passes", async () => {
  for (let size = 1; size <= 33; size++) {
    const leaves = await Promise.all(Array.from({ length: size }, (_, i) => leafHash(utf8(`entry ${i}`))));
    const root = await merkleRoot(leaves);
    const bigger = await merkleRoot([...leaves, await leafHash(utf8("one more"))]);
    for (let index = 0; index < size; index++) {
      const proof = await inclusionProof(index, leaves);
      assert.ok(await verifyInclusion(leaves[index], index, size, proof, root), `${index} of ${size}`);
      assert.ok(!(await verifyInclusion(leaves[(index + 1) % size], index, size, proof, root)) || size === 1);
      // (The same path can hold in a larger tree with the same root: the signature binds root and size together.)
      assert.ok(!(await verifyInclusion(leaves[index], index, size, proof, bigger)));
      if (proof.length) {
        const changed = proof.map((p) => p.slice());
        changed[0][0] ^= 1;
        assert.ok(!(await verifyInclusion(leaves[index], index, size, changed, root)));
      }
    }
  }
});

test("an index outside the tree is refused", async () => {
  const leaf = await leafHash(utf8("x"));
  assert.equal(await verifyInclusion(leaf, 1, 1, [], leaf), false);
  assert.equal(await verifyInclusion(leaf, -1, 1, [], leaf), false);
});
