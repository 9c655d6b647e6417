// Who and what a sealed bid belongs to (docs/sealed-bid-format.md §1): one
// accepted spelling for the tender, the bid and the bidder, because the strings
// are hashed into keys and info strings.

import { IdentityError } from "./errors.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
// GB 32100-2015: weight(i) = 3^i mod 31 for the first 17 characters (1, 3, 9, 27, 19, 26, 16, 17, …).
const CREDIT_WEIGHTS = Array.from({ length: 17 }, (_, i) => {
  let weight = 1;
  for (let k = 0; k < i; k++) weight = (weight * 3) % 31;
  return weight;
});

export const STREAM_INFO_LABEL = "etender-bid-v1";

export function checkUuid(value, what) {
  if (typeof value !== "string" || !UUID.test(value)) {
    throw new IdentityError(`${what} must be a UUID in lowercase hyphenated form, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * A unified social credit code (统一社会信用代码, GB 32100-2015) in capitals with a valid check character.
 * The rules in the order of docs/sealed-bid-format.md §1, the first broken one being the refusal: 18 characters,
 * every character in the alphabet, characters 3 to 8 digits, then check = 31 − (Σ value(c_i)·(3^i mod 31) mod 31), with 31 → 0.
 */
export function checkCreditCode(value, what = "bidder") {
  // Characters are code points, as everywhere in the format (not UTF-16 code units: an emoji is one).
  if (typeof value !== "string" || [...value].length !== 18) {
    throw new IdentityError(`${what} must be an 18-character credit code, got ${JSON.stringify(value)}`);
  }
  const values = [...value].map((ch) => CREDIT_ALPHABET.indexOf(ch));
  if (values.includes(-1)) {
    throw new IdentityError(`${what} ${value} contains a character a credit code does not use`);
  }
  if (!/^[0-9]{6}$/.test(value.slice(2, 8))) throw new IdentityError(`${what} ${value}: characters 3 to 8 must be digits`);
  let total = 0;
  for (let i = 0; i < 17; i++) total += values[i] * CREDIT_WEIGHTS[i];
  const expected = CREDIT_ALPHABET[(31 - (total % 31)) % 31];
  if (value[17] !== expected) throw new IdentityError(`${what} ${value}: wrong check character, expected ${expected}`);
  return value;
}

/** `{tender, bid, bidder}`, checked. */
export function bidIdentity(tender, bid, bidder) {
  return Object.freeze({ tender: checkUuid(tender, "tender"), bid: checkUuid(bid, "bid"), bidder: checkCreditCode(bidder) });
}

/** `etender-bid-v1|{tender}|{bid}|{bidder}`: the streaming AEAD's associated data. */
export function streamInfo(identity) {
  return `${STREAM_INFO_LABEL}|${identity.tender}|${identity.bid}|${identity.bidder}`;
}

export function newBidId() {
  return crypto.randomUUID();
}
