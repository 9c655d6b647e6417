// Who and what a sealed bid belongs to (docs/sealed-bid-format.md §1): one
// accepted spelling for the tender, the bid and the bidder, because the strings
// are hashed into keys and info strings.

import { IdentityError } from "./errors.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export const STREAM_INFO_LABEL = "etender-bid-v1";

export function checkUuid(value, what) {
  if (typeof value !== "string" || !UUID.test(value)) {
    throw new IdentityError(`${what} must be a UUID in lowercase hyphenated form, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A unified social credit code (统一社会信用代码, GB 32100-2015) in capitals with a valid check character. */
export function checkCreditCode(value, what = "bidder") {
  if (typeof value !== "string" || value.length !== 18) {
    throw new IdentityError(`${what} must be an 18-character credit code, got ${JSON.stringify(value)}`);
  }
  let total = 0;
  for (let i = 0; i < 18; i++) {
    const v = CREDIT_ALPHABET.indexOf(value[i]);
    if (v < 0) throw new IdentityError(`${what} ${value} contains a character a credit code does not use`);
    if (i >= 2 && i < 8 && !/[0-9]/.test(value[i])) {
      throw new IdentityError(`${what} ${value}: characters 3 to 8 must be digits`);
    }
    if (i < 17) total += v * CREDIT_WEIGHTS[i];
  }
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
