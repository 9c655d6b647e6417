// The statements a user's signing key answers for (docs/custody.md): the proof
// of possession at key registration (etender-key-proof-v1) and the custodian's
// confirmation that it serves on a tender (etender-custody-v1), and the bidder's
// check of every confirmation before it seals, against trust that does not come
// from the platform: fingerprints the user pinned, or certificates chaining to
// a CA the user imported.
//
// A signing key signs manifests, key proofs and custody statements, so nothing
// here signs bytes it has not first parsed and recognised as exactly the
// statement it means to make: a platform cannot pass off one statement as
// another.

import { equalBytes, fromBase64, fromUtf8, toBase64 } from "./bytes.js";
import { canonicalBytes, parseStrictJson } from "./jcs.js";
import { checkSpki, fingerprint } from "./keys.js";
import { openEnvelope } from "./envelopes.js";
import { derToRaw, rawToDer } from "./manifest.js";
import { CertificateError, parseCertificate, pemCertificates, spkiOf, subjectField, verifyPath } from "./x509.js";

export const KEY_PROOF_FORMAT = "etender-key-proof-v1";
export const CUSTODY_FORMAT = "etender-custody-v1";
const KEY_PROOF_FIELDS = ["format", "purpose", "fingerprint", "user", "organization", "nonce"];
const HEX64 = /^[0-9a-f]{64}$/;

export class StatementError extends Error {}

/** Why a custodian's confirmation is not good enough to seal to it. `reason` is a stable word; `detail` says more. */
export class CustodyRefused extends Error {
  constructor(custodian, reason, detail = "", changedPositions = null) {
    super(`${custodian.name || custodian.username} (${custodian.username}): ${reason}${detail ? ` — ${detail}` : ""}`);
    this.custodian = custodian;
    this.reason = reason;
    this.detail = detail;
    this.changedPositions = changedPositions;
  }
}

const sameFields = (value, names) =>
  value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).sort().join() === [...names].sort().join();

/** ECDSA P-256/SHA-256 with a (non-extractable) WebCrypto key, as strict DER. */
export async function signStatement(bytes, privateKey) {
  return rawToDer(new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, bytes)));
}

/** Whether the DER `signature` over `bytes` verifies with the P-256 key `spki`; false for any malformed input. */
export async function verifyStatement(bytes, signature, spki) {
  try {
    const key = await crypto.subtle.importKey("spki", checkSpki(spki), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, derToRaw(signature), bytes);
  } catch {
    return false;
  }
}

// -- A. proof of possession ------------------------------------------------------------------------------

/**
 * The platform's challenge for registering the key `fingerprint` of `purpose`
 * as `user` (of `organization`, the credit code or "", when given), parsed and
 * checked to be exactly that and nothing else. Returns
 * the statement's bytes and its fields.
 */
export function checkKeyProofStatement(statementBase64, { purpose, fingerprint: expectedFingerprint, user, organization }) {
  let bytes;
  let statement;
  try {
    bytes = fromBase64(statementBase64);
    statement = parseStrictJson(fromUtf8(bytes));
  } catch (exc) {
    throw new StatementError(`the key-proof statement is not JSON (${exc.message})`);
  }
  if (!sameFields(statement, KEY_PROOF_FIELDS) || statement.format !== KEY_PROOF_FORMAT) {
    throw new StatementError(`the statement is not an ${KEY_PROOF_FORMAT} statement`);
  }
  if (!equalBytes(canonicalBytes(statement), bytes)) throw new StatementError("the key-proof statement is not canonical JSON");
  if (statement.purpose !== purpose || statement.fingerprint !== expectedFingerprint || statement.user !== user) {
    throw new StatementError("the key-proof statement names another key, purpose or user");
  }
  if (organization !== undefined && statement.organization !== organization) throw new StatementError("the key-proof statement names another organization");
  if (typeof statement.nonce !== "string" || !HEX64.test(statement.nonce) || typeof statement.organization !== "string") {
    throw new StatementError("the key-proof statement's nonce or organization is malformed");
  }
  return { bytes, statement };
}

/** HPKE info of the sealed nonce of an encryption key's challenge. */
export const keyProofInfo = (keyFingerprint) => `${KEY_PROOF_FORMAT}|${keyFingerprint}`;

/**
 * The answer to the platform's challenge (POST …/keys/challenges) for `held`,
 * one purpose's WebCrypto pair `{privateKey, publicKey, fingerprint}` of `user`:
 * the `proof` of POST …/keys.
 */
export async function answerChallenge(user, purpose, held, challenge, organization = undefined) {
  const { bytes } = checkKeyProofStatement(challenge.statement, { purpose, fingerprint: held.fingerprint, user, organization });
  if (purpose === "signing") return { challenge: challenge.challenge, signature: toBase64(await signStatement(bytes, held.privateKey)) };
  if (typeof challenge.sealed !== "string") throw new StatementError("the challenge for an encryption key carries no sealed nonce");
  // The sealed secret is not the statement's nonce (anyone reads that): only the private key opens it.
  const opened = await openEnvelope(fromBase64(challenge.sealed), { privateKey: held.privateKey, publicKey: held.publicKey }, keyProofInfo(held.fingerprint));
  return { challenge: challenge.challenge, nonce: toBase64(opened) };
}

// -- C. custody confirmations ----------------------------------------------------------------------------

/** The canonical bytes of a custodian's confirmation (docs/custody.md §C). */
export function custodyStatement({ tender, index, threshold, recipients, custodian, signingKey }) {
  return canonicalBytes({
    format: CUSTODY_FORMAT,
    tender,
    index,
    threshold,
    recipients: [...recipients],
    custodian,
    signing_key: signingKey,
  });
}

/**
 * What the custodian's own client checks before it confirms: that the tender
 * lists, at the custodian's slot, the encryption key this device holds.
 * Returns the custodian's entry; throws a StatementError otherwise.
 */
export function ownSlot(custody, { username, encryptionFingerprint }) {
  const mine = custody.custodians.filter((c) => c.username === username);
  if (mine.length !== 1) throw new StatementError(`the tender does not list ${username} as one of its custodians`);
  const slot = mine[0];
  if (!Number.isInteger(slot.index) || custody.recipients[slot.index] !== encryptionFingerprint) {
    throw new StatementError(
      `the tender lists the encryption key ${custody.recipients[slot.index] ?? "(none)"} at position ${slot.index}, not this device's ${encryptionFingerprint}`,
    );
  }
  if (slot.encryption_key?.fingerprint !== encryptionFingerprint) throw new StatementError("the custodian's key entry is not the recipient at its position");
  return slot;
}

/**
 * The trust a bidder's browser holds: `anchors` (PEM texts of CA certificates
 * it imported) and `pins` (`[{username, fingerprint}]` it typed in). Certificates
 * are parsed once here.
 */
export function trustFrom({ anchors = [], pins = [] } = {}) {
  const certificates = [];
  for (const pem of anchors) for (const der of pemCertificates(pem)) certificates.push(parseCertificate(der));
  return { anchors: certificates, pins: pins.map((p) => ({ username: p.username, fingerprint: p.fingerprint.toLowerCase() })) };
}

/** How the signing key of `custodian` is trusted ("pinned" or "certificate"); throws CustodyRefused otherwise. */
async function trustedBy(custodian, signingKey, spki, trust, now) {
  if (trust.pins.some((p) => p.username === custodian.username && p.fingerprint === signingKey.fingerprint)) return "pinned";
  if (!signingKey.certificate) throw new CustodyRefused(custodian, "untrusted_key", `signing key ${signingKey.fingerprint} is neither pinned nor certified`);
  if (!trust.anchors.length) throw new CustodyRefused(custodian, "untrusted_key", "no CA is in this browser's trust list and the key is not pinned");
  let cert;
  try {
    const found = pemCertificates(signingKey.certificate);
    if (found.length !== 1) throw new CertificateError("the key's certificate is not one PEM certificate");
    cert = parseCertificate(found[0]);
  } catch (exc) {
    throw new CustodyRefused(custodian, "certificate_invalid", exc.message);
  }
  if (!equalBytes(spkiOf(cert), spki)) throw new CustodyRefused(custodian, "certificate_invalid", "the certificate is for another key");
  if (subjectField(cert, "2.5.4.5") !== custodian.username) {
    throw new CustodyRefused(custodian, "certificate_invalid", `the certificate names ${subjectField(cert, "2.5.4.5") || "nobody"}, not ${custodian.username}`);
  }
  try {
    await verifyPath([cert], trust.anchors, now);
  } catch (exc) {
    if (!(exc instanceof CertificateError)) throw exc;
    throw new CustodyRefused(custodian, "certificate_invalid", exc.message);
  }
  return "certificate";
}

/**
 * The 0-based positions whose recipients differ from those `custodian` signed for, when its statement is
 * a valid, trusted confirmation of this very slot that differs from the expected one in `recipients`
 * only; otherwise null.
 */
async function changedRecipients(custody, custodian, statement, signature, spki, signingKey, trust, now) {
  let signed;
  try {
    signed = parseStrictJson(fromUtf8(statement));
  } catch {
    return null;
  }
  if (!Array.isArray(signed?.recipients) || signed.recipients.length !== custody.recipients.length) return null;
  const same = custodyStatement({
    tender: custody.tender,
    index: custodian.index,
    threshold: custody.threshold,
    recipients: signed.recipients,
    custodian: custodian.username,
    signingKey: signingKey.fingerprint,
  });
  if (!equalBytes(same, statement) || !(await verifyStatement(statement, signature, spki))) return null;
  try {
    await trustedBy(custodian, signingKey, spki, trust, now);
  } catch (exc) {
    if (exc instanceof CustodyRefused) return null;
    throw exc;
  }
  const changed = signed.recipients.map((fp, i) => (fp === custody.recipients[i] ? null : i)).filter((i) => i !== null);
  return changed.length ? changed : null;
}

/** One custodian's confirmation checked: `{index, username, name, trustedBy}`; throws CustodyRefused. */
async function checkConfirmation(custody, custodian, trust, now) {
  const recipient = custody.recipients[custodian.index];
  if (!recipient || custodian.encryption_key?.fingerprint !== recipient) {
    throw new CustodyRefused(custodian, "wrong_recipient", `position ${custodian.index} is not this custodian's key`);
  }
  let encryptionSpki;
  try {
    encryptionSpki = checkSpki(fromBase64(custodian.encryption_key.spki));
  } catch {
    throw new CustodyRefused(custodian, "wrong_recipient", "its encryption key is malformed");
  }
  if ((await fingerprint(encryptionSpki)) !== recipient) throw new CustodyRefused(custodian, "wrong_recipient", "its encryption key is not the one listed");
  const confirmation = custodian.confirmation;
  if (!confirmation) throw new CustodyRefused(custodian, "not_confirmed");
  const signingKey = confirmation.signing_key ?? {};
  let spki;
  let statement;
  let signature;
  try {
    spki = checkSpki(fromBase64(signingKey.spki));
    statement = fromBase64(confirmation.statement);
    signature = fromBase64(confirmation.signature);
  } catch {
    throw new CustodyRefused(custodian, "malformed", "the confirmation is not base64 of a key, a statement and a signature");
  }
  if ((await fingerprint(spki)) !== signingKey.fingerprint) throw new CustodyRefused(custodian, "malformed", "the signing key's fingerprint is not its key's");
  const expected = custodyStatement({
    tender: custody.tender,
    index: custodian.index,
    threshold: custody.threshold,
    recipients: custody.recipients,
    custodian: custodian.username,
    signingKey: signingKey.fingerprint,
  });
  if (!equalBytes(statement, expected)) {
    // A genuine confirmation of this slot that differs only in the recipients: the keys at the positions that
    // differ were changed after it was signed. Those custodians are the ones to name (checkCustody).
    const changed = await changedRecipients(custody, custodian, statement, signature, spki, signingKey, trust, now);
    if (changed) throw new CustodyRefused(custodian, "statement_mismatch", `it confirmed other keys at position(s) ${changed.map((i) => i + 1).join(", ")}`, changed);
    throw new CustodyRefused(custodian, "statement_mismatch", "it confirmed another tender, position, threshold or set of keys");
  }
  if (!(await verifyStatement(statement, signature, spki))) throw new CustodyRefused(custodian, "bad_signature");
  const how = await trustedBy(custodian, signingKey, spki, trust, now);
  return { index: custodian.index, username: custodian.username, name: custodian.name, trustedBy: how, signingKey: signingKey.fingerprint, encryptionSpki };
}

/**
 * The bidder's check before it seals: `custody` is GET /api/tenders/{id}/custody,
 * `expected` what the page seals to (`tender`, `threshold`, `recipients`: the
 * fingerprints, in order). Every custodian is checked (not only up to the first
 * failure), so the page can name each one that fails. Returns
 * `{ok, results: [{index, username, name, ok, trustedBy?, signingKey?, reason?, detail?, message?}], spkis}`;
 * `spkis` (the recipients' encryption keys, in order) only when ok.
 */
export async function checkCustody(custody, expected, trust, now = new Date()) {
  const results = [];
  const fail = (reason, detail) => ({ ok: false, results: [{ index: null, username: "", name: "", ok: false, reason, detail, message: detail }], spkis: null });
  if (custody?.tender !== expected.tender || custody.threshold !== expected.threshold) return fail("tender_mismatch", "the custody record is of another tender or threshold");
  if (!Array.isArray(custody.recipients) || custody.recipients.join() !== expected.recipients.join()) {
    return fail("recipients_mismatch", "the custody record lists other keys than the ones this page would seal to");
  }
  const indices = Array.isArray(custody.custodians) ? custody.custodians.map((c) => c.index).sort((a, b) => a - b) : [];
  if (indices.join() !== custody.recipients.map((_, i) => i).join()) {
    return fail("recipients_mismatch", "the custody record does not name exactly one custodian per key");
  }
  const spkis = [];
  const changed = new Set();
  for (const custodian of [...custody.custodians].sort((a, b) => a.index - b.index)) {
    try {
      const checked = await checkConfirmation(custody, custodian, trust, now);
      spkis[checked.index] = checked.encryptionSpki;
      results.push({ index: checked.index, username: checked.username, name: checked.name, ok: true, trustedBy: checked.trustedBy, signingKey: checked.signingKey });
    } catch (exc) {
      if (!(exc instanceof CustodyRefused)) throw exc;
      for (const position of exc.changedPositions ?? []) changed.add(position);
      results.push({ index: custodian.index, username: custodian.username, name: custodian.name, ok: false, reason: exc.reason, detail: exc.detail, message: exc.message });
    }
  }
  // Keys changed after the custodians confirmed: the custodians whose keys changed are named as the cause
  // (key_changed); the others' confirmations, genuine but of the old keys, stay refused (statement_mismatch).
  for (const result of results) {
    if (changed.has(result.index)) Object.assign(result, { ok: false, reason: "key_changed", detail: "the encryption key served for it now is not the one the custodians confirmed" });
  }
  const ok = results.every((r) => r.ok);
  return { ok, results, spkis: ok ? spkis : null };
}
