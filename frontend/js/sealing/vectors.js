// The test vectors of docs/sealed-bid-vectors/ as a list of checks, run by
// node's test runner (tests/js/) and, the same code bundled, in Chromium
// (tests/browser/test_browser_sealing.py): both implementations must give the
// vectors' bytes exactly.

import { concat, equalBytes, fromBase64, fromHex, sha256, toHex, utf8 } from "./bytes.js";
import { PiecesSource, buildContainer, memberHeader, readPriceSummary, ustarName } from "./container.js";
import { combineParts, keyCommitment, openEnvelope, custodianSubsets, verifyCommitment } from "./envelopes.js";
import { fingerprint, spkiFromPoint, spkiPoint } from "./keys.js";
import { canonicalBytes } from "./jcs.js";
import { derToRaw, parseManifest, rawToDer, verifyManifest } from "./manifest.js";
import { sealBid } from "./seal.js";
import {
  Encryptor,
  decryptAll,
  deriveSegmentKeyBytes,
  layoutForCiphertext,
  layoutForPlaintext,
  segmentNonce,
  headerBytes,
} from "./stream.js";
import { checkCreditCode, streamInfo } from "./identity.js";
import { missingDocuments, responseIndex, responseIndexBytes } from "./response-index.js";

function assert(condition, message) {
  if (!condition) throw new Error(`vector check failed: ${message}`);
}

function same(actual, expected, what) {
  if (actual === expected) return;
  const a = String(actual);
  const e = String(expected);
  let at = 0;
  while (at < a.length && at < e.length && a[at] === e[at]) at++;
  const around = (text) => text.slice(Math.max(0, at - 16), at + 48);
  throw new Error(`vector check failed: ${what}: differs at character ${at}: got …${around(a)}…, expected …${around(e)}…`);
}

function pattern(size) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = i % 251;
  return out;
}

function memorySink() {
  const chunks = [];
  return {
    write(bytes) {
      chunks.push(bytes.slice());
    },
    bytes: () => concat(...chunks),
  };
}

async function importPrivate(key) {
  const privateKey = await crypto.subtle.importKey("pkcs8", fromHex(key.pkcs8_der_hex), { name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  const publicKey = await crypto.subtle.importKey("spki", fromHex(key.spki_der_hex), { name: "ECDH", namedCurve: "P-256" }, true, []);
  return { privateKey, publicKey };
}

async function expectRefusal(promise, kind, what, segment = undefined) {
  try {
    await promise;
  } catch (exc) {
    same(exc.kind, kind, `${what}: the kind of refusal (${exc.message})`);
    // With two faults, the first failing segment is the one named (§2.5).
    if (segment !== undefined) same(exc.segment, segment, `${what}: the segment the refusal names (${exc.message})`);
    return;
  }
  throw new Error(`vector check failed: ${what}: no refusal, expected ${kind}`);
}

// What each rule's refusal says (identity.json's `rule`, docs/sealed-bid-format.md §1).
const CREDIT_CODE_RULES = {
  length: "18-character credit code",
  character: "contains a character a credit code does not use",
  division: "characters 3 to 8 must be digits",
  check: "wrong check character",
};

async function expectManifestRefusal(text, fragment, what) {
  try {
    await parseManifest(utf8(text));
  } catch (exc) {
    assert(exc.name === "ManifestError", `${what}: ${exc.name} instead of ManifestError (${exc.message})`);
    assert(exc.message.includes(fragment), `${what}: "${exc.message}" does not say "${fragment}"`);
    return;
  }
  throw new Error(`vector check failed: ${what}: the manifest was accepted`);
}

/** `[{name, run}]`: every check of every vector file; `run()` resolves or throws. */
export function vectorChecks(vectors) {
  const checks = [];
  const add = (name, run) => checks.push({ name, run });
  const { stream, container, envelopes, signature, bid, identity } = vectors;

  // -- stream.json --------------------------------------------------------------------------------
  const fileKey = fromHex(stream.file_key_hex);
  const salt = fromHex(stream.salt_hex);
  const prefix = fromHex(stream.nonce_prefix_hex);
  add("stream: info, header and derived segment key", async () => {
    same(streamInfo(stream), stream.info, "info");
    same(toHex(headerBytes(salt, prefix)), stream.header_hex, "header");
    same(toHex(await deriveSegmentKeyBytes(fileKey, salt, stream.info)), stream.segment_key_hex, "segment key");
    for (const n of stream.nonces) same(toHex(segmentNonce(prefix, n.segment, n.last)), n.nonce_hex, `nonce ${n.segment}`);
  });
  const ciphertexts = new Map();
  const encryptCase = async (c) => {
    if (!ciphertexts.has(c.name)) {
      const plaintext = c.plaintext_hex !== undefined ? fromHex(c.plaintext_hex) : pattern(c.plaintext_pattern_size);
      const sink = memorySink();
      const result = await new Encryptor({ fileKey, info: stream.info, salt, noncePrefix: prefix }).encrypt(new PiecesSource([plaintext]), sink);
      ciphertexts.set(c.name, { plaintext, ciphertext: sink.bytes(), result });
    }
    return ciphertexts.get(c.name);
  };
  for (const c of stream.cases) {
    add(`stream: encrypt ${c.name}`, async () => {
      const { ciphertext, result } = await encryptCase(c);
      same(ciphertext.length, c.ciphertext_size, "size");
      same(result.ciphertextSize, c.ciphertext_size, "reported size");
      same(result.segments, c.segments, "segments");
      same(result.ciphertextSha256, c.ciphertext_sha256, "streamed SHA-256");
      same(toHex(await sha256(ciphertext)), c.ciphertext_sha256, "SHA-256");
      if (c.ciphertext_hex !== undefined) same(toHex(ciphertext), c.ciphertext_hex, "ciphertext");
      if (c.ciphertext_head_hex !== undefined) {
        same(toHex(ciphertext.subarray(0, c.ciphertext_head_hex.length / 2)), c.ciphertext_head_hex, "head");
        same(toHex(ciphertext.subarray(ciphertext.length - c.ciphertext_tail_hex.length / 2)), c.ciphertext_tail_hex, "tail");
      }
      const layout = layoutForPlaintext(c.plaintext_size);
      same(layout.size, c.ciphertext_size, "layout size");
      same(layout.finalSegmentSize, c.final_segment_size, "final segment size");
      const back = layoutForCiphertext(c.ciphertext_size);
      same(back.plaintextSize, c.plaintext_size, "plaintext size from the ciphertext size");
      same(back.segments, c.segments, "segments from the ciphertext size");
    });
    add(`stream: decrypt ${c.name}`, async () => {
      const { plaintext, ciphertext } = await encryptCase(c);
      assert(equalBytes(await decryptAll(fileKey, stream.info, ciphertext), plaintext), "the plaintext comes back");
    });
  }
  for (const bad of stream.invalid) {
    add(`stream: refuse ${bad.name}`, async () => {
      const { ciphertext } = await encryptCase(stream.cases.find((c) => c.name === bad.from_case));
      let changed = ciphertext.slice();
      let info = stream.info;
      const change = bad.change;
      if ("truncate_to" in change) changed = changed.slice(0, change.truncate_to);
      if ("append_hex" in change) changed = concat(changed, fromHex(change.append_hex));
      if ("swap_segments" in change) {
        const [a, b] = change.swap_segments;
        const S = stream.segment_size;
        const first = changed.slice(a * S, (a + 1) * S);
        const second = changed.slice(b * S, (b + 1) * S);
        assert(first.length === S && second.length === S, "two whole segments to swap");
        changed.set(second, a * S);
        changed.set(first, b * S);
      }
      if ("flip_bit_of_byte" in change) changed[change.flip_bit_of_byte] ^= 1;
      if ("set_byte" in change) changed[change.set_byte[0]] = change.set_byte[1];
      if ("info" in change && change.info === null) info = stream.other_info;
      await expectRefusal(decryptAll(fileKey, info, changed), bad.error, bad.name, bad.segment);
    });
  }

  // -- container.json ------------------------------------------------------------------------------
  const files = container.files.map((f) => ({ path: f.path, data: fromHex(f.content_hex) }));
  add("container: the price summary's canonical text", async () => {
    same(new TextDecoder().decode(canonicalBytes(container.price_summary)), container.price_summary_text, "price summary text");
  });
  add("container: member headers", async () => {
    for (const m of container.member_headers) same(toHex(memberHeader(m.path, m.size)), m.header_hex, `header of ${m.path}`);
  });
  add("container: one '?' per non-ASCII code point in the ustar name (emoji, CJK Extension B)", async () => {
    for (const m of container.member_headers) same(new TextDecoder().decode(ustarName(m.path)), m.ustar_name, `ustar name of ${m.path}`);
  });

  // -- identity.json -------------------------------------------------------------------------------
  add("identity: valid credit codes", async () => {
    for (const v of identity.valid) same(checkCreditCode(v.code), v.code, v.code);
  });
  for (const bad of identity.invalid) {
    add(`identity: refuse the credit code with ${bad.name}`, async () => {
      try {
        checkCreditCode(bad.code);
      } catch (exc) {
        assert(exc.name === "IdentityError", `${bad.name}: ${exc.name} instead of IdentityError`);
        assert(exc.message.includes(CREDIT_CODE_RULES[bad.rule]), `${bad.name}: "${exc.message}" is not the ${bad.rule} rule`);
        return;
      }
      throw new Error(`vector check failed: ${bad.name}: ${bad.code} was accepted`);
    });
  }
  add("container: the whole container, byte for byte", async () => {
    const bytes = await buildContainer(container.price_summary, files);
    same(bytes.length, container.container_size, "size");
    same(toHex(await sha256(bytes)), container.container_sha256, "SHA-256");
    same(toHex(bytes), container.container_hex, "bytes");
    same(JSON.stringify(readPriceSummary(bytes)), JSON.stringify(JSON.parse(container.price_summary_text)), "price summary read back");
  });
  add("container: the same bytes whatever order the files are given in", async () => {
    const bytes = await buildContainer(container.price_summary, [...files].reverse());
    same(toHex(bytes), container.container_hex, "bytes");
  });

  // -- response-index.json (optional: older callers pass only the files above) --------------------
  const answers = vectors["response-index"];
  if (answers) {
    const indexed = answers.files.map((f) => ({ path: f.path, data: fromHex(f.content_hex) }));
    add("response index: the index's canonical text, its pointers sorted", async () => {
      const index = responseIndex(answers.pointers);
      same(new TextDecoder().decode(responseIndexBytes(index)), answers.index_text, "index text");
      same(JSON.stringify(responseIndex([...answers.pointers].reverse())), JSON.stringify(index), "any order");
    });
    add("response index: the container with the index, byte for byte", async () => {
      const bytes = await buildContainer(answers.price_summary, indexed, responseIndex(answers.pointers));
      same(bytes.length, answers.container_size, "size");
      same(toHex(await sha256(bytes)), answers.container_sha256, "SHA-256");
      same(toHex(bytes), answers.container_hex, "bytes");
    });
    const refusals = [
      ["page 0", [{ item: "T1", path: "技术/施工组织设计.pdf", page: 0 }], "page"],
      ["page 100001", [{ item: "T1", path: "技术/施工组织设计.pdf", page: 100001 }], "page"],
      ["an item id with a dot", [{ item: "T.1", path: "技术/施工组织设计.pdf", page: 1 }], "item"],
      ["a path with '..'", [{ item: "T1", path: "../a.pdf", page: 1 }], "'..'"],
      ["an unknown path", [{ item: "T1", path: "技术/不存在.pdf", page: 1 }], "not in the bid"],
      ["a pointer twice", [answers.pointers[0], answers.pointers[0]], "twice"],
      ["no pointers", [], "1 to 2000 pointers"],
      ["2001 pointers", Array.from({ length: 2001 }, (_, i) => ({ item: "T1", path: "技术/施工组织设计.pdf", page: i + 1 })), "1 to 2000 pointers"],
    ];
    for (const [name, pointers, words] of refusals) {
      add(`response index: refuse ${name}`, async () => {
        try {
          await buildContainer(answers.price_summary, indexed, responseIndex(pointers));
        } catch (exc) {
          assert(exc.name === "ResponseIndexError", `${name}: ${exc.name} instead of ResponseIndexError (${exc.message})`);
          assert(exc.message.includes(words), `${name}: "${exc.message}" does not say "${words}"`);
          return;
        }
        throw new Error(`vector check failed: ${name}: accepted`);
      });
    }
    for (const c of answers.missing_documents) {
      add(`response index: missing documents when ${c.name}`, async () => {
        const index = c.pointers.length ? responseIndex(c.pointers) : null;
        const found = missingDocuments(answers.method, c.files, index).map(([q, d]) => [q.id, d.id]);
        same(JSON.stringify(found), JSON.stringify(c.missing), c.name);
      });
    }
  }

  // -- envelopes.json ------------------------------------------------------------------------------
  add("envelopes: the suite", async () => {
    same(JSON.stringify(envelopes.suite), JSON.stringify({ mode: 0, kem_id: 16, kdf_id: 1, aead_id: 2 }), "suite");
  });
  add("envelopes: fingerprints of the keys", async () => {
    for (const key of [envelopes.keys.bidder_encryption, ...envelopes.keys.custodians]) {
      same(await fingerprint(fromHex(key.spki_der_hex)), key.fingerprint, "fingerprint");
      same(toHex(spkiPoint(fromHex(key.spki_der_hex))), key.point_hex, "point");
      same(toHex(spkiFromPoint(fromHex(key.point_hex))), key.spki_der_hex, "SPKI from the point");
    }
  });
  add("envelopes: open the bidder's envelope", async () => {
    const e = envelopes.bidder_envelope;
    const recipient = await importPrivate(envelopes.keys.bidder_encryption);
    same(toHex(await openEnvelope(fromHex(e.sealed_hex), recipient, e.info)), e.plaintext_hex, "file key");
    await expectRefusal(openEnvelope(fromHex(e.sealed_hex), recipient, `${e.info}x`), "sealing", "another info");
  });
  add("envelopes: open every custodian part, and each subset XORs to the file key", async () => {
    const bySubset = new Map();
    for (const part of envelopes.custodian_parts) {
      const key = envelopes.keys.custodians[part.position];
      same(part.recipient, key.fingerprint, "recipient");
      const opened = await openEnvelope(fromHex(part.sealed_hex), await importPrivate(key), part.info);
      same(toHex(opened), part.plaintext_hex, `part ${part.members}/${part.position}`);
      const subset = part.members.join(",");
      if (!bySubset.has(subset)) bySubset.set(subset, []);
      bySubset.get(subset).push(opened);
    }
    for (const [subset, parts] of bySubset) same(toHex(combineParts(parts)), envelopes.file_key_hex, `subset ${subset}`);
    same(JSON.stringify([...bySubset.keys()]), JSON.stringify(custodianSubsets(3, envelopes.threshold).map((m) => m.join(","))), "subsets");
  });
  add("envelopes: XOR splits", async () => {
    for (const x of envelopes.xor) same(toHex(combineParts(x.parts_hex.map(fromHex))), x.key_hex, "XOR");
  });
  add("envelopes: key commitments", async () => {
    for (const c of envelopes.key_commitment) same(toHex(await keyCommitment(fromHex(c.file_key_hex))), c.kc_hex, "kc");
  });
  add("envelopes: subsets in lexicographic order (3 of 5)", async () => {
    same(
      custodianSubsets(5, 3).map((m) => m.join("")).join(" "),
      "012 013 014 023 024 034 123 124 134 234",
      "subsets",
    );
  });

  // -- signature.json ------------------------------------------------------------------------------
  add("signature: raw ↔ DER both ways", async () => {
    for (const c of signature.conversions) {
      same(toHex(rawToDer(fromHex(c.raw_hex))), c.der_hex, "raw to DER");
      same(toHex(derToRaw(fromHex(c.der_hex))), c.raw_hex, "DER to raw");
    }
  });
  add("signature: encodings to refuse", async () => {
    for (const bad of signature.not_der) {
      let refused = false;
      try {
        derToRaw(fromHex(bad.hex));
      } catch {
        refused = true;
      }
      assert(refused, `${bad.name} refused`);
    }
  });
  add("signature: the RFC 6979 signature verifies with WebCrypto", async () => {
    const key = await crypto.subtle.importKey("spki", fromHex(signature.signing_key.spki_der_hex), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    const raw = derToRaw(fromHex(signature.signature_der_hex));
    assert(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, fromHex(signature.message_hex)), "verifies");
    assert(!(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, utf8("another message"))), "not over another message");
  });
  add("signature: a WebCrypto signature (raw → DER) verifies after the round trip", async () => {
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    const message = fromHex(signature.message_hex);
    const der = rawToDer(new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, message)));
    assert(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pair.publicKey, derToRaw(der), message), "verifies");
  });

  // -- bid.json ------------------------------------------------------------------------------------------
  const manifest = JSON.parse(bid.manifest_text);
  add("bid: the manifest parses and is canonical", async () => {
    const parsed = await parseManifest(utf8(bid.manifest_text));
    same(new TextDecoder().decode(canonicalBytes(parsed)), bid.manifest_text, "canonical text");
    same(toHex(await sha256(utf8(bid.manifest_text))), bid.manifest_sha256, "manifest SHA-256");
  });
  add("bid: the manifest's signature verifies (DER and raw)", async () => {
    const spki = fromHex(bid.keys.bidder_signing.spki_der_hex);
    await verifyManifest(utf8(bid.manifest_text), fromHex(bid.signature_der_hex), spki);
    same(toHex(derToRaw(fromHex(bid.signature_der_hex))), bid.signature_raw_hex, "raw form");
    await expectRefusal(
      verifyManifest(utf8(bid.manifest_text.replace("2026-03-02T01:00:00.000Z", "2026-03-02T01:00:00.001Z")), fromHex(bid.signature_der_hex), spki),
      "sealing",
      "a changed manifest",
    );
  });
  add("bid: seal the tiny bid again: the same ciphertext and manifest", async () => {
    // HPKE is randomized, so the envelopes are taken from the vector: everything else is recomputed.
    const sink = memorySink();
    const custodians = bid.keys.custodians.map((k) => fromHex(k.spki_der_hex));
    const sealed = await sealBid({
      files,
      lots: container.price_summary.lots,
      tender: manifest.tender,
      bid: manifest.bid,
      bidder: manifest.bidder,
      signingKeyFingerprint: bid.keys.bidder_signing.fingerprint,
      encryptionSpki: fromHex(bid.keys.bidder_encryption.spki_der_hex),
      custodians,
      threshold: bid.threshold,
      sink,
      clientTime: manifest.client_time,
      fixed: { fileKey: fromHex(bid.file_key_hex), salt: fromHex(bid.salt_hex), noncePrefix: fromHex(bid.nonce_prefix_hex) },
    });
    same(toHex(sink.bytes()), bid.ciphertext_hex, "ciphertext");
    same(sealed.ciphertextSha256, manifest.ciphertext_sha256, "ciphertext SHA-256");
    same(sealed.size, manifest.ciphertext_size, "size");
    same(sealed.manifest.kc, manifest.kc, "kc");
    same(sealed.manifest.header_sha256, manifest.header_sha256, "header SHA-256");
    same(JSON.stringify(sealed.manifest.envelopes.custodians.recipients), JSON.stringify(manifest.envelopes.custodians.recipients), "recipients");
    same(sealed.manifest.envelopes.bidder.recipient, manifest.envelopes.bidder.recipient, "bidder recipient");
    const withVectorEnvelopes = new TextDecoder().decode(canonicalBytes({ ...sealed.manifest, envelopes: manifest.envelopes }));
    same(withVectorEnvelopes, bid.manifest_text, "manifest text");
    // And the fresh envelopes open to the file key with the vector's private keys.
    const bidderKey = await importPrivate(bid.keys.bidder_encryption);
    const envelope = sealed.manifest.envelopes.bidder;
    const info = `etender-envelope-v1|bidder|${manifest.tender}|${manifest.bid}|${manifest.bidder}|${envelope.recipient}`;
    same(toHex(await openEnvelope(fromBase64(envelope.sealed), bidderKey, info)), bid.file_key_hex, "fresh bidder envelope");
    const subset = sealed.manifest.envelopes.custodians.subsets[0];
    const parts = [];
    for (let j = 0; j < subset.members.length; j++) {
      const position = subset.members[j];
      const key = bid.keys.custodians[position];
      const partInfo = `etender-envelope-v1|custodian|${manifest.tender}|${manifest.bid}|${manifest.bidder}|${bid.threshold}-of-3|${subset.members.join(",")}|${position}|${key.fingerprint}`;
      parts.push(await openEnvelope(fromBase64(subset.parts[j]), await importPrivate(key), partInfo));
    }
    await verifyCommitment(combineParts(parts), fromHex(manifest.kc));
  });
  add("bid: the ciphertext decrypts to the container", async () => {
    const plaintext = await decryptAll(fromHex(bid.file_key_hex), streamInfo(manifest), fromHex(bid.ciphertext_hex));
    same(toHex(plaintext), container.container_hex, "container");
  });
  for (const bad of bid.invalid_manifests) {
    add(`bid: refuse the manifest with ${bad.name}`, () => expectManifestRefusal(bad.manifest_text, bad.error, bad.name));
  }
  return checks;
}

/** Runs every check; `[{name, ok, error}]` (for the browser, which has no test runner). */
export async function runVectorChecks(vectors) {
  const results = [];
  for (const check of vectorChecks(vectors)) {
    try {
      await check.run();
      results.push({ name: check.name, ok: true });
    } catch (exc) {
      results.push({ name: check.name, ok: false, error: String(exc?.message ?? exc) });
    }
  }
  return results;
}
