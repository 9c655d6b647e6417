// A minimal DER reader: enough to take an X.509 certificate apart (its signed
// part, signature and public key) and to find the time and message imprint in
// an RFC 3161 time-stamp token. It reads, it never builds.

import { asBytes, fromUtf8, toHex } from "./bytes.js";

export class Asn1Error extends Error {}

/** The TLV at `at`: `{tag, constructed, start, headerLength, length, end, value, bytes}`. */
export function readTlv(data, at = 0) {
  const bytes = asBytes(data);
  if (at + 2 > bytes.length) throw new Asn1Error("DER ends early");
  const tag = bytes[at];
  if ((tag & 0x1f) === 0x1f) throw new Asn1Error("multi-byte tags are not used here");
  let length = bytes[at + 1];
  let headerLength = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || at + 2 + count > bytes.length) throw new Asn1Error("bad DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[at + 2 + i];
    headerLength += count;
  }
  const end = at + headerLength + length;
  if (end > bytes.length) throw new Asn1Error("DER ends early");
  return {
    tag,
    constructed: (tag & 0x20) !== 0,
    start: at,
    headerLength,
    length,
    end,
    value: bytes.subarray(at + headerLength, end),
    bytes: bytes.subarray(at, end),
  };
}

export function children(node) {
  const out = [];
  let at = 0;
  while (at < node.value.length) {
    const child = readTlv(node.value, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

export function expectTag(node, tag, what) {
  if (node.tag !== tag) throw new Asn1Error(`${what}: tag 0x${node.tag.toString(16)} where 0x${tag.toString(16)} was expected`);
  return node;
}

/** Dotted text of an OBJECT IDENTIFIER's value. */
export function oid(node) {
  expectTag(node, 0x06, "object identifier");
  const v = node.value;
  const parts = [];
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    n = n * 128 + (v[i] & 0x7f);
    if (!(v[i] & 0x80)) {
      if (parts.length === 0) parts.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
      else parts.push(n);
      n = 0;
    }
  }
  return parts.join(".");
}

/** A UTCTime or GeneralizedTime as a Date (UTC, "Z" forms only, as certificates and TSAs write them). */
export function time(node) {
  const text = fromUtf8(node.value);
  let match;
  if (node.tag === 0x17) {
    match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!match) throw new Asn1Error(`a UTCTime ${text} in a form not handled`);
    const year = Number(match[1]) + (Number(match[1]) < 50 ? 2000 : 1900);
    return new Date(Date.UTC(year, Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])));
  }
  if (node.tag === 0x18) {
    match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,6}))?Z$/.exec(text);
    if (!match) throw new Asn1Error(`a GeneralizedTime ${text} in a form not handled`);
    const ms = match[7] ? Number(match[7].padEnd(3, "0").slice(0, 3)) : 0;
    return new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6]), ms));
  }
  throw new Asn1Error("not a time");
}

export const OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  sha256: "2.16.840.1.101.3.4.2.1",
  signedData: "1.2.840.113549.1.7.2",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  commonName: "2.5.4.3",
};

/** The parts of an X.509 certificate this page uses. */
export function parseCertificate(der) {
  const cert = expectTag(readTlv(der), 0x30, "certificate");
  const [tbs, signatureAlgorithm, signatureValue] = children(cert);
  expectTag(tbs, 0x30, "tbsCertificate");
  const fields = children(tbs);
  let i = fields[0].tag === 0xa0 ? 1 : 0;
  const serial = fields[i++];
  i++; // the signature algorithm inside the signed part
  const issuer = fields[i++];
  const validity = children(fields[i++]);
  const subject = fields[i++];
  const spki = fields[i++];
  const bits = expectTag(signatureValue, 0x03, "signature");
  if (bits.value[0] !== 0) throw new Asn1Error("a signature BIT STRING with unused bits");
  return {
    der: cert.bytes,
    tbs: tbs.bytes,
    serialHex: toHex(serial.value),
    issuer: issuer.bytes,
    subject: subject.bytes,
    subjectCommonName: commonName(subject),
    notBefore: time(validity[0]),
    notAfter: time(validity[1]),
    spki: spki.bytes,
    signatureAlgorithm: oid(children(signatureAlgorithm)[0]),
    signature: bits.value.subarray(1),
  };
}

function commonName(name) {
  for (const rdn of children(name)) {
    for (const attribute of children(rdn)) {
      const [type, value] = children(attribute);
      if (oid(type) === OID.commonName) return fromUtf8(value.value);
    }
  }
  return "";
}

/** From an RFC 3161 TimeStampToken: the TSTInfo's message imprint (algorithm, hash) and genTime. */
export function parseTimestampToken(der) {
  const contentInfo = children(expectTag(readTlv(der), 0x30, "ContentInfo"));
  if (oid(contentInfo[0]) !== OID.signedData) throw new Asn1Error("the token is not CMS SignedData");
  const signedData = children(expectTag(children(expectTag(contentInfo[1], 0xa0, "content"))[0], 0x30, "SignedData"));
  const encap = children(expectTag(signedData[2], 0x30, "encapContentInfo"));
  if (oid(encap[0]) !== OID.tstInfo) throw new Asn1Error("the token does not carry a TSTInfo");
  const octets = expectTag(children(expectTag(encap[1], 0xa0, "eContent"))[0], 0x04, "eContent");
  const tst = children(expectTag(readTlv(octets.value), 0x30, "TSTInfo"));
  const imprint = children(expectTag(tst[2], 0x30, "messageImprint"));
  return {
    policy: oid(tst[1]),
    hashAlgorithm: oid(children(imprint[0])[0]),
    hashedMessage: expectTag(imprint[1], 0x04, "hashedMessage").value,
    serialHex: toHex(tst[3].value),
    genTime: time(expectTag(tst[4], 0x18, "genTime")),
  };
}
