// The Merkle tree of RFC 9162 §2.1 (SHA-256), as archive/merkle.py: enough to
// check a receipt's inclusion proof in the browser.

import { asBytes, concat, equalBytes, sha256 } from "./bytes.js";

export function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), asBytes(data)));
}

export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/** RFC 9162 §2.1.3.2: does `proof` (bottom-up) show `leaf` at `index` in the tree of `size` leaves with `root`? */
export async function verifyInclusion(leaf, index, size, proof, root) {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) return false;
  if (leaf.length !== 32 || root.length !== 32 || proof.some((p) => p.length !== 32)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  const half = (x) => Math.floor(x / 2);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equalBytes(r, root);
}

/** MTH of RFC 9162 §2.1.1 over leaf hashes (tests). */
export async function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(await merkleRoot(leaves.slice(0, k)), await merkleRoot(leaves.slice(k)));
}

/** PATH(index, D[n]) of RFC 9162 §2.1.3.1 (tests). */
export async function inclusionProof(index, leaves) {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  if (index < k) return [...(await inclusionProof(index, leaves.slice(0, k))), await merkleRoot(leaves.slice(k))];
  return [...(await inclusionProof(index - k, leaves.slice(k))), await merkleRoot(leaves.slice(0, k))];
}
