// Properties of the JavaScript sealing beyond the vectors: streaming from
// Blobs over many segments, the container's order and refusals, the strict
// readers (base64, JSON, DER, manifest), the key commitment and subsets.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ContainerError,
  IdentityError,
  ManifestError,
  PriceSummaryError,
  bidPath,
  buildContainer,
  checkCreditCode,
  custodianSubsets,
  decryptAll,
  derToRaw,
  exportSpki,
  fingerprint,
  fromBase64,
  layoutForCiphertext,
  layoutForPlaintext,
  openEnvelope,
  combineParts,
  parseManifest,
  parseStrictJson,
  priceSummary,
  rawToDer,
  readPriceSummary,
  sealBid,
  sortBidFiles,
  streamInfo,
  toBase64,
  utf8,
  verifyCommitment,
  verifyManifest,
  signManifest,
  concat,
} from "../../frontend/js/sealing/index.js";

const TENDER = "3f2b8c4e-9a1d-4e6f-8b2c-5d7e9f0a1b2c";
const BIDDER = "91360781MA00000015";
const LOTS = [{ lot: "1", price_yuan: "12345678.90", schedule_days: 365, declared: { 质量标准: "合格" } }];

async function ecdhPair() {
  return crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
}

function memorySink() {
  const chunks = [];
  return { write: (bytes) => void chunks.push(bytes.slice()), bytes: () => concat(...chunks) };
}

test("a multi-segment bid sealed from Blobs decrypts to its container, and its envelopes open", async () => {
  const bidder = await ecdhPair();
  const custodians = [await ecdhPair(), await ecdhPair(), await ecdhPair(), await ecdhPair()];
  const signing = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const signingSpki = await exportSpki(signing.publicKey);
  const big = new Uint8Array(3 * 1048576 + 777).map((_, i) => (i * 7) & 255);
  const files = [
    { path: "bid/技术标/方案.pdf", data: new Blob([big]) },
    { path: "bid/a.txt", data: new Blob(["hello"]) },
    { path: "bid/empty", data: new Blob([]) },
  ];
  const sink = memorySink();
  const bid = crypto.randomUUID();
  let progressCalls = 0;
  const sealed = await sealBid({
    files,
    lots: LOTS,
    tender: TENDER,
    bid,
    bidder: BIDDER,
    signingKeyFingerprint: await fingerprint(signingSpki),
    encryptionSpki: await exportSpki(bidder.publicKey),
    custodians: await Promise.all(custodians.map((c) => exportSpki(c.publicKey))),
    threshold: 3,
    sink,
    onProgress: () => progressCalls++,
  });
  const ciphertext = sink.bytes();
  assert.equal(ciphertext.length, sealed.size);
  assert.equal(layoutForCiphertext(sealed.size).segments, 4);
  assert.equal(progressCalls, 4);
  const manifest = sealed.manifest;
  assert.equal(manifest.envelopes.custodians.subsets.length, 4); // C(4, 3)
  const signature = await signManifest(sealed.manifestBytes, signing.privateKey);
  await verifyManifest(sealed.manifestBytes, signature, signingSpki);

  // The bidder's own envelope (a non-extractable key: its public half goes beside it).
  const info = `etender-envelope-v1|bidder|${TENDER}|${bid}|${BIDDER}|${manifest.envelopes.bidder.recipient}`;
  const fileKey = await openEnvelope(fromBase64(manifest.envelopes.bidder.sealed), bidder, info);
  const { fromHex } = await import("../../frontend/js/sealing/bytes.js");
  await verifyCommitment(fileKey, fromHex(manifest.kc));
  // Any subset's parts give the same key.
  const subset = manifest.envelopes.custodians.subsets[3];
  const parts = [];
  for (let j = 0; j < 3; j++) {
    const position = subset.members[j];
    const recipient = manifest.envelopes.custodians.recipients[position];
    const partInfo = `etender-envelope-v1|custodian|${TENDER}|${bid}|${BIDDER}|3-of-4|${subset.members.join(",")}|${position}|${recipient}`;
    parts.push(await openEnvelope(fromBase64(subset.parts[j]), custodians[position], partInfo));
  }
  assert.deepEqual(combineParts(parts), fileKey);

  const plaintext = await decryptAll(fileKey, streamInfo({ tender: TENDER, bid, bidder: BIDDER }), ciphertext);
  const expected = await buildContainer(priceSummary({ tender: TENDER, bid, bidder: BIDDER }, LOTS), [
    { path: "bid/a.txt", data: utf8("hello") },
    { path: "bid/empty", data: new Uint8Array(0) },
    { path: "bid/技术标/方案.pdf", data: big },
  ]);
  assert.deepEqual(plaintext, expected);
  assert.equal(readPriceSummary(plaintext).lots[0].declared.质量标准, "合格");
});

test("files are ordered by the UTF-8 bytes of their paths, not by UTF-16 code units", () => {
  // U+FF61 is EF BD A1 in UTF-8, U+1F600 is F0 9F 98 80: UTF-16 (D83D…) would put the emoji first.
  const files = [{ path: "bid/\u{1F600}.txt" }, { path: "bid/\uFF61.txt" }, { path: "bid/Z" }, { path: "bid/a" }];
  assert.deepEqual(
    sortBidFiles(files).map((f) => f.path),
    ["bid/Z", "bid/a", "bid/\uFF61.txt", "bid/\u{1F600}.txt"],
  );
  assert.throws(() => sortBidFiles([{ path: "bid/x" }, { path: "bid/x" }]), ContainerError);
});

test("file names are normalized to NFC and bad paths are refused", () => {
  assert.equal(bidPath("e\u0301.txt"), "bid/\u00e9.txt");
  for (const bad of ["a/../b", "a//b", "./a", "a\\b", "a\u0001b", "a\u0085b", "x".repeat(1030)]) {
    assert.throws(() => bidPath(bad), ContainerError, bad);
  }
  assert.throws(() => bidPath("\ud800.txt"), ContainerError);
});

test("the price summary refuses what the format refuses", () => {
  const identity = { tender: TENDER, bid: crypto.randomUUID(), bidder: BIDDER };
  const lot = (changes) => [{ ...LOTS[0], ...changes }];
  for (const bad of [{ price_yuan: "1.5" }, { price_yuan: "01.50" }, { price_yuan: 1.5 }, { schedule_days: -1 }, { schedule_days: 36501 }, { schedule_days: 1.5 }, { lot: "" }, { lot: "a\nb" }, { declared: { "": "x" } }]) {
    assert.throws(() => priceSummary(identity, lot(bad)), PriceSummaryError, JSON.stringify(bad));
  }
  assert.throws(() => priceSummary(identity, [LOTS[0], LOTS[0]]), PriceSummaryError);
  assert.throws(() => priceSummary(identity, []), PriceSummaryError);
  assert.throws(() => priceSummary({ ...identity, bidder: "91360781MA00000016" }, LOTS), IdentityError);
  assert.throws(() => priceSummary({ ...identity, tender: TENDER.toUpperCase() }, LOTS), IdentityError);
});

test("credit codes: the check character is checked", () => {
  assert.equal(checkCreditCode("91360781MA00000015"), "91360781MA00000015");
  assert.throws(() => checkCreditCode("91360781MA00000016"), IdentityError);
  assert.throws(() => checkCreditCode("91360781ma00000015"), IdentityError);
});

test("layouts: boundaries of segment 0 and the next", () => {
  assert.equal(layoutForPlaintext(0).size, 56);
  assert.equal(layoutForPlaintext(1048520).segments, 1);
  assert.equal(layoutForPlaintext(1048521).segments, 2);
  assert.equal(layoutForPlaintext(1048520 + 1048560).segments, 2);
  assert.equal(layoutForPlaintext(1048520 + 1048561).segments, 3);
  assert.throws(() => layoutForCiphertext(55));
  assert.throws(() => layoutForCiphertext(1048576 + 15));
  assert.equal(layoutForCiphertext(1048576 + 16).plaintextSize, 1048520);
});

test("base64 is read strictly", () => {
  assert.deepEqual(fromBase64("AAE="), Uint8Array.of(0, 1));
  for (const bad of ["AAF=", "AA==A", "AAE", "A===", "AA=E", "AA E"]) assert.throws(() => fromBase64(bad), TypeError, bad);
  for (let n = 0; n < 8; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => 250 - i);
    assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
    assert.equal(toBase64(bytes), Buffer.from(bytes).toString("base64"));
  }
});

test("the strict JSON reader refuses duplicates and non-integers", () => {
  assert.deepEqual(parseStrictJson('{"a":[1,-2,"x\\u00e9"],"b":{}}'), { a: [1, -2, "xé"], b: {} });
  for (const bad of ['{"a":1,"a":2}', "1.0", "1e3", "9007199254740992", "[1,]", '{"a":1}x', "NaN", "'a'"]) {
    assert.throws(() => parseStrictJson(bad), Error, bad);
  }
});

test("DER: raw signatures convert both ways, and out-of-range scalars are refused", () => {
  const raw = new Uint8Array(64);
  raw[31] = 1;
  raw[63] = 0x80;
  assert.deepEqual(derToRaw(rawToDer(raw)), raw);
  assert.throws(() => rawToDer(new Uint8Array(64)), ManifestError);
  assert.throws(() => rawToDer(new Uint8Array(64).fill(0xff)), ManifestError);
  assert.throws(() => derToRaw(Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01)), ManifestError);
  assert.throws(() => derToRaw(Uint8Array.of(0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01)), ManifestError); // non-minimal
});

test("a manifest naming another signing key is refused by the verifier", async () => {
  const { readFileSync } = await import("node:fs");
  const bid = JSON.parse(readFileSync(new URL("../../docs/sealed-bid-vectors/bid.json", import.meta.url), "utf8"));
  const other = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const bytes = utf8(bid.manifest_text);
  const signature = await signManifest(bytes, other.privateKey);
  await assert.rejects(verifyManifest(bytes, signature, await exportSpki(other.publicKey)), /names signing key/);
  await parseManifest(bytes);
});

test("k-subsets: counts and order", () => {
  assert.equal(custodianSubsets(9, 4).length, 126);
  assert.deepEqual(custodianSubsets(3, 3), [[0, 1, 2]]);
  assert.deepEqual(custodianSubsets(3, 1), [[0], [1], [2]]);
  assert.throws(() => custodianSubsets(10, 2));
  assert.throws(() => custodianSubsets(3, 4));
});

test("reading the container from Blobs in blocks gives the same bytes at any offset and length", async () => {
  const { PiecesSource, READ_BLOCK } = await import("../../frontend/js/sealing/container.js");
  const big = new Uint8Array(2 * READ_BLOCK + 4099).map((_, i) => (i * 13 + (i >> 9)) & 255);
  const pieces = [utf8("head"), new Blob([big]), new Uint8Array(0), new Blob(["tail"]), new Uint8Array(1024)];
  const whole = concat(utf8("head"), big, utf8("tail"), new Uint8Array(1024));
  const source = new PiecesSource(pieces);
  assert.equal(source.size, whole.length);
  const cuts = [[0, 4], [0, 10], [3, READ_BLOCK], [4, READ_BLOCK], [READ_BLOCK - 5, 10], [READ_BLOCK + 4, READ_BLOCK], [2 * READ_BLOCK, 5000], [whole.length - 1030, 1030], [0, whole.length]];
  for (const [offset, length] of cuts) assert.deepEqual(await source.read(offset, length), whole.subarray(offset, offset + length), `${offset}+${length}`);
  // Concurrent reads in increasing order, as the Encryptor makes them.
  const step = 1048560;
  const reads = [];
  for (let at = 0; at < whole.length; at += step) reads.push(source.read(at, Math.min(step, whole.length - at)));
  assert.deepEqual(concat(...(await Promise.all(reads))), whole);
});

test("a file that changes size while it is sealed is refused", async () => {
  const { PiecesSource } = await import("../../frontend/js/sealing/container.js");
  const shrunk = new Blob([new Uint8Array(10)]);
  const source = new PiecesSource([shrunk]);
  // A Blob whose reported size is larger than what it gives: like a file cut while being read.
  source.pieces[0].size = 20;
  source.size = 20;
  await assert.rejects(source.read(0, 20), ContainerError);
});
