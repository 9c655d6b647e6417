// Checking a receipt (docs/receipts.md) in the browser, offline: what the
// platform's signed, time-stamped statement says, and that it holds.
//
// Checked here: the receipt's form; that its subject names this bid (id, tender,
// ciphertext hash, size, manifest hash); the ledger entry's bytes (canonical,
// hashing to entry_hash and leaf_hash, at seq, with the subject in its data);
// the RFC 9162 inclusion proof from that leaf to the signed root; the
// platform's ECDSA P-256 signature with the key of the first certificate of the
// receipt's chain; each certificate of the chain signed by the next, the last
// one a trust anchor or signed by one, each valid when the receipt was issued
// (when anchors are given); and that the RFC 3161 token is over SHA-256 of that
// signature (its genTime is shown) and, when TSA anchors are given, signed by a
// time-stamping certificate that chains to one of them (x509.js:
// verifyTimestampSignature; only the ESS signing-certificate attribute is left
// to python -m archive.verify).
// Certificates and the token are read with @peculiar/x509 and its ASN.1 schemas (x509.js).

import { asBytes, equalBytes, fromBase64, fromHex, fromUtf8, sha256, toHex } from "./bytes.js";
import {
  CertificateError,
  OID,
  commonName,
  parseCertificate,
  parsePemCertificates,
  parseTimestampToken,
  pemCertificates,
  spkiOf,
  verifyPath,
  verifyTimestampSignature,
} from "./x509.js";
import { canonicalText, parseStrictJson } from "./jcs.js";
import { checkSpki } from "./keys.js";
import { derToRaw } from "./manifest.js";
import { leafHash, verifyInclusion } from "./merkle.js";

export const RECEIPT_FORMAT = "etender-receipt-v1";
const RECEIPT_FIELDS = ["format", "subject", "ledger", "issued_at", "platform_certificate_chain", "signature", "timestamp"];
const LEDGER_FIELDS = ["seq", "entry_hash", "leaf_hash", "entry_bytes_b64", "tree_size", "root", "inclusion_proof"];
const ENTRY_FIELDS = ["seq", "case", "action", "actor_id", "actor", "recorded_at", "data", "prev"];
const HEX64 = /^[0-9a-f]{64}$/;
const ISSUED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

class Refused extends Error {
  constructor(check, message) {
    super(message);
    this.check = check;
  }
}

function sameFields(value, names) {
  return value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).sort().join() === [...names].sort().join();
}

function b64(value, check, what) {
  try {
    return fromBase64(value);
  } catch {
    throw new Refused(check, `${what} is not base64`);
  }
}

/** The bytes the platform signs: JCS of the receipt without `signature` and `timestamp`. */
export function receiptSignedBytes(receipt) {
  const signed = {};
  for (const [key, value] of Object.entries(receipt)) if (key !== "signature" && key !== "timestamp") signed[key] = value;
  return canonicalBytesLoose(signed);
}

// The receipt and ledger entries may hold booleans and null (the ledger accepts them); JCS of those is plain JSON.
function canonicalBytesLoose(value) {
  return new TextEncoder().encode(canonicalLoose(value));
}

function canonicalLoose(value) {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalLoose).join(",")}]`;
  if (typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalLoose(value[key])}`)
      .join(",")}}`;
  }
  return canonicalText(value);
}

async function verifyEcdsa(spki, signatureDer, data) {
  checkSpki(spki);
  const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  let raw;
  try {
    raw = derToRaw(signatureDer);
  } catch {
    return false;
  }
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, asBytes(data));
}

/**
 * Checks a receipt; never throws for a bad receipt. `expected` holds what the
 * bidder knows of its bid (`bid_id`, `tender_id`, `ciphertext_sha256`, `size`,
 * `manifest_sha256`: each given one must equal the subject's); `trustAnchors`
 * are PEM certificate(s) the platform's chain must end at (skipped when empty);
 * `tsaAnchors` those the time-stamp authority's certificate must chain to (its
 * signature is checked only when given); `action`, when given, the ledger
 * action the entry must record (`tendering.bid.withdrawn` for a withdrawal receipt).
 * Returns `{ok, failed, reason, checks: [{check, ok, detail}], subject, seq,
 * treeSize, root, issuedAt, timestampTime}`.
 */
export async function verifyReceipt(receiptBytes, { expected = {}, trustAnchors = "", tsaAnchors = "", action = "" } = {}) {
  const checks = [];
  const result = { ok: false, failed: null, reason: "", checks, subject: null, seq: null, treeSize: null, root: null, issuedAt: null, timestampTime: null };
  const pass = (check, detail = "") => checks.push({ check, ok: true, detail });
  try {
    // 1. The form.
    let receipt;
    try {
      receipt = parseStrictJson(fromUtf8(asBytes(receiptBytes)));
    } catch (exc) {
      throw new Refused("format", `the receipt is not JSON a receipt can be (${exc.message})`);
    }
    if (!sameFields(receipt, RECEIPT_FIELDS) || receipt.format !== RECEIPT_FORMAT) {
      throw new Refused("format", `the receipt does not have exactly the fields of ${RECEIPT_FORMAT}`);
    }
    const ledger = receipt.ledger;
    if (!sameFields(ledger, LEDGER_FIELDS)) throw new Refused("format", "the receipt's ledger part has other fields than v1's");
    if (!(Number.isSafeInteger(ledger.seq) && Number.isSafeInteger(ledger.tree_size) && ledger.seq >= 1 && ledger.seq <= ledger.tree_size)) {
      throw new Refused("format", "the receipt's seq or tree_size is not a position in its tree");
    }
    for (const name of ["entry_hash", "leaf_hash", "root"]) {
      if (typeof ledger[name] !== "string" || !HEX64.test(ledger[name])) throw new Refused("format", `ledger.${name} is not 64 lowercase hex digits`);
    }
    if (!Array.isArray(ledger.inclusion_proof) || !ledger.inclusion_proof.every((h) => typeof h === "string" && HEX64.test(h))) {
      throw new Refused("format", "the inclusion proof is not a list of hashes");
    }
    if (typeof receipt.issued_at !== "string" || !ISSUED_AT.test(receipt.issued_at)) throw new Refused("format", "issued_at is malformed");
    const chainPem = receipt.platform_certificate_chain;
    if (!Array.isArray(chainPem) || !chainPem.length || !chainPem.every((p) => typeof p === "string")) {
      throw new Refused("format", "the certificate chain is not a list of PEM certificates");
    }
    const subject = receipt.subject;
    if (subject === null || typeof subject !== "object" || Array.isArray(subject) || !Object.keys(subject).length) {
      throw new Refused("format", "the subject is not a non-empty object");
    }
    Object.assign(result, { subject, seq: ledger.seq, treeSize: ledger.tree_size, root: ledger.root, issuedAt: receipt.issued_at });
    pass("format");

    // 2. The subject names this bid.
    for (const [key, value] of Object.entries(expected)) {
      if (value === undefined || value === null) continue;
      if (!(key in subject) || canonicalLoose(subject[key]) !== canonicalLoose(value)) {
        throw new Refused("subject", `the receipt's ${key} is ${JSON.stringify(subject[key])}, not ${JSON.stringify(value)}`);
      }
    }
    pass("subject", Object.keys(expected).filter((k) => expected[k] != null).join(", "));

    // 3. The ledger entry.
    const entryBytes = b64(ledger.entry_bytes_b64, "entry", "the ledger entry");
    let entry;
    try {
      entry = parseStrictJson(fromUtf8(entryBytes));
    } catch (exc) {
      throw new Refused("entry", `the ledger entry is not JSON (${exc.message})`);
    }
    if (!sameFields(entry, ENTRY_FIELDS) || entry.data === null || typeof entry.data !== "object") {
      throw new Refused("entry", "the ledger entry does not have exactly the entry fields");
    }
    if (!equalBytes(canonicalBytesLoose(entry), entryBytes)) throw new Refused("entry", "the ledger entry's bytes are not canonical");
    if (toHex(await sha256(entryBytes)) !== ledger.entry_hash) throw new Refused("entry", "the ledger entry does not hash to entry_hash");
    const leaf = await leafHash(entryBytes);
    if (toHex(leaf) !== ledger.leaf_hash) throw new Refused("entry", "the ledger entry does not give leaf_hash");
    if (entry.seq !== ledger.seq) throw new Refused("entry", `the ledger entry is entry ${entry.seq}, the receipt names ${ledger.seq}`);
    if (action && entry.action !== action) throw new Refused("entry", `the receipt is for a ${entry.action} entry, not ${action}`);
    for (const [key, value] of Object.entries(subject)) {
      if (!(key in entry.data) || canonicalLoose(entry.data[key]) !== canonicalLoose(value)) {
        throw new Refused("entry", `the subject's ${key} is not the ledger entry's`);
      }
    }
    pass("entry", `${entry.action} · ${entry.case}`);

    // 4. The inclusion proof.
    const proof = ledger.inclusion_proof.map(fromHex);
    if (!(await verifyInclusion(leaf, ledger.seq - 1, ledger.tree_size, proof, fromHex(ledger.root)))) {
      throw new Refused("inclusion", `the inclusion proof does not lead from entry ${ledger.seq} to the root of the tree of ${ledger.tree_size} entries`);
    }
    pass("inclusion", `${ledger.seq} / ${ledger.tree_size}`);

    // 5. The platform's signature.
    let chain;
    try {
      chain = chainPem.map((pem) => {
        const found = pemCertificates(pem);
        if (found.length !== 1) throw new CertificateError("one certificate per entry");
        return parseCertificate(found[0]);
      });
    } catch (exc) {
      throw new Refused("signature", `the certificate chain cannot be read (${exc.message})`);
    }
    const signature = b64(receipt.signature, "signature", "the signature");
    let signed;
    try {
      signed = receiptSignedBytes(receipt);
    } catch (exc) {
      throw new Refused("signature", `the receipt holds a value a receipt never has (${exc.message})`);
    }
    let verified = false;
    try {
      verified = await verifyEcdsa(spkiOf(chain[0]), signature, signed);
    } catch {
      verified = false;
    }
    if (!verified) throw new Refused("signature", "the platform signature does not verify (changed after signing, or another key signed it)");
    pass("signature", commonName(chain[0]));

    // 6. The certificate chain, up to a trust anchor (when the page has one).
    let anchors;
    try {
      anchors = trustAnchors ? parsePemCertificates(trustAnchors) : [];
    } catch (exc) {
      throw new Refused("chain", `the trust anchors cannot be read (${exc.message})`);
    }
    if (anchors.length) {
      const issuedAt = new Date(receipt.issued_at.replace(/\.(\d{3})\d{3}Z$/, ".$1Z"));
      let path;
      try {
        path = await verifyPath(chain, anchors, issuedAt);
      } catch (exc) {
        if (!(exc instanceof CertificateError)) throw exc;
        throw new Refused("chain", exc.message);
      }
      pass("chain", path.map(commonName).join(" ← "));
    }

    // 7. The time-stamp is over this signature.
    let token;
    try {
      token = parseTimestampToken(b64(receipt.timestamp, "timestamp", "the time-stamp"));
    } catch (exc) {
      if (exc instanceof Refused) throw exc;
      throw new Refused("timestamp", `the time-stamp token cannot be read (${exc.message})`);
    }
    if (token.hashAlgorithm !== OID.sha256 || !equalBytes(token.hashedMessage, await sha256(signature))) {
      throw new Refused("timestamp", "the time-stamp is over other data than this receipt's signature");
    }
    result.timestampTime = token.genTime.toISOString();
    let tsa = "";
    if (tsaAnchors) {
      try {
        tsa = commonName(await verifyTimestampSignature(b64(receipt.timestamp, "timestamp", "the time-stamp"), parsePemCertificates(tsaAnchors)));
      } catch (exc) {
        if (!(exc instanceof CertificateError)) throw exc;
        throw new Refused("timestamp", exc.message);
      }
    }
    pass("timestamp", tsa ? `${result.timestampTime} · ${tsa}` : result.timestampTime);
    result.ok = true;
  } catch (exc) {
    if (!(exc instanceof Refused)) throw exc;
    result.failed = exc.check;
    result.reason = exc.message;
    checks.push({ check: exc.check, ok: false, detail: exc.message });
  }
  return result;
}
