// At the opening, in the browser: a bidder opens its own envelope and a
// custodian its parts of a bid, with non-extractable keys, and both ways give
// the key the manifest's commitment names; envelopes for someone else are refused.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  EnvelopeError,
  KeyCommitmentError,
  combineParts,
  exportSpki,
  fingerprint,
  openBidderEnvelope,
  openCustodianParts,
  parseManifest,
  sealBid,
} from "../../frontend/js/sealing/index.js";

const TENDER = "3f2b8c4e-9a1d-4e6f-8b2c-5d7e9f0a1b2c";
const BIDDER = "91360781MA00000015";
const LOTS = [{ lot: "1", price_yuan: "6123456.70", schedule_days: 180 }];

async function holder() {
  const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  const spki = await exportSpki(pair.publicKey);
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, spki, fingerprint: await fingerprint(spki) };
}

async function sealedFor(bidder, custodians, threshold) {
  const signing = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const sealed = await sealBid({
    files: [{ path: "bid/技术标.pdf", data: new Blob(["施工组织设计"]) }],
    lots: LOTS,
    tender: TENDER,
    bid: crypto.randomUUID(),
    bidder: BIDDER,
    signingKeyFingerprint: await fingerprint(await exportSpki(signing.publicKey)),
    encryptionSpki: bidder.spki,
    custodians: custodians.map((c) => c.spki),
    threshold,
    sink: { write: () => {} },
  });
  return parseManifest(sealed.manifestBytes);
}

test("the bidder's envelope and any k custodians' parts give the same key, checked against kc", async () => {
  const bidder = await holder();
  const custodians = [await holder(), await holder(), await holder()];
  const manifest = await sealedFor(bidder, custodians, 2);
  const fileKey = await openBidderEnvelope(manifest, bidder, bidder.fingerprint);
  assert.equal(fileKey.length, 32);

  const opened = await Promise.all(custodians.map((c) => openCustodianParts(manifest, c, c.fingerprint)));
  // Each of 3 custodians is in 2 of the 3 subsets of 2: {0,1}, {0,2}, {1,2}.
  assert.deepEqual(
    opened.map((parts) => parts.map((p) => p.members)),
    [
      [
        [0, 1],
        [0, 2],
      ],
      [
        [0, 1],
        [1, 2],
      ],
      [
        [0, 2],
        [1, 2],
      ],
    ],
  );
  const partOf = (position, members) => opened[position].find((p) => p.members.join() === members.join()).part;
  assert.deepEqual(combineParts([partOf(1, [1, 2]), partOf(2, [1, 2])]), fileKey);
  assert.deepEqual(combineParts([partOf(0, [0, 2]), partOf(2, [0, 2])]), fileKey);
});

test("an envelope sealed to another key is refused before anything is opened", async () => {
  const bidder = await holder();
  const stranger = await holder();
  const custodians = [await holder(), await holder()];
  const manifest = await sealedFor(bidder, custodians, 1);
  await assert.rejects(openBidderEnvelope(manifest, stranger, stranger.fingerprint), EnvelopeError);
  await assert.rejects(openCustodianParts(manifest, stranger, stranger.fingerprint), EnvelopeError);
  // Someone else's key under the bidder's fingerprint does not open the envelope either.
  await assert.rejects(openBidderEnvelope(manifest, stranger, bidder.fingerprint), EnvelopeError);
});

test("a key that does not match the manifest's commitment is refused", async () => {
  const bidder = await holder();
  const manifest = await sealedFor(bidder, [await holder()], 1);
  const tampered = { ...manifest, kc: "00".repeat(32) };
  await assert.rejects(openBidderEnvelope(tampered, bidder, bidder.fingerprint), KeyCommitmentError);
});
