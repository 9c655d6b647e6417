// The custodian's signed "does not open" statement (etender-part-refusal-v1,
// docs/sealed-bid-format.md §4.6): sent in place of a part that does not open
// on the custodian's device, so every other part goes and every other bid opens.
// The same bytes as tendering/sealing/refusal.py (docs/sealed-bid-vectors/refusal.json).

import { signStatement } from "./custody.js";
import { ENC_SIZE, ENVELOPE_SIZE } from "./envelopes.js";
import { canonicalBytes } from "./jcs.js";

export const REFUSAL_FORMAT = "etender-part-refusal-v1";

/** The statement's canonical bytes; `members` ascending, `index` one of them (the custodian's 0-based position). */
export function refusalStatement({ tender, bid, members, index, reason, signingKey }) {
  return canonicalBytes({ format: REFUSAL_FORMAT, tender, bid, members: [...members], index, reason, signing_key: signingKey });
}

/** Why an envelope did not open: not even an envelope (size, no uncompressed point), or HPKE refused it. */
export function refusalReason(sealed) {
  return sealed.length !== ENVELOPE_SIZE || sealed.length < ENC_SIZE || sealed[0] !== 0x04 ? "malformed_envelope" : "hpke_open_failed";
}

/** The statement and its strict-DER signature by `signer` (`{privateKey, fingerprint}`, the custodian's signing key). */
export async function signRefusal(fields, signer) {
  const statement = refusalStatement({ ...fields, signingKey: signer.fingerprint });
  return { statement, signature: await signStatement(statement, signer.privateKey) };
}
