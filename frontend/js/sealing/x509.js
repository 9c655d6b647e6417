// X.509 certificates and RFC 3161 time-stamp tokens, read with maintained
// libraries (@peculiar/x509 and the @peculiar/asn1-* schemas it is built on)
// instead of a DER reader of our own. The receipt check (receipt.js) and the
// custodians' confirmations (custody.js) both go through here.

// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { X509Certificate } from "@peculiar/x509";
import { AsnConvert } from "@peculiar/asn1-schema";
import { ContentInfo, SignedData, id_signedData } from "@peculiar/asn1-cms";
import { TSTInfo, id_ct_tstInfo } from "@peculiar/asn1-tsp";

import { asBytes, equalBytes, fromBase64 } from "./bytes.js";

export { X509Certificate };

export const OID = {
  sha256: "2.16.840.1.101.3.4.2.1",
  serialNumber: "2.5.4.5",
};

export class CertificateError extends Error {}

/** The DER of every certificate in a PEM text, in order. */
export function pemCertificates(pem) {
  const out = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let match = re.exec(pem); match; match = re.exec(pem)) out.push(fromBase64(match[1].replace(/\s+/g, "")));
  return out;
}

/** A certificate from its DER; a CertificateError when it is not one. */
export function parseCertificate(der) {
  try {
    return new X509Certificate(asBytes(der));
  } catch (exc) {
    throw new CertificateError(`not an X.509 certificate (${exc?.message ?? exc})`);
  }
}

/** The certificates of a PEM text; a CertificateError when any block is not one. */
export const parsePemCertificates = (pem) => pemCertificates(pem).map(parseCertificate);

export const certificateDer = (cert) => new Uint8Array(cert.rawData);
export const spkiOf = (cert) => new Uint8Array(cert.publicKey.rawData);
export const subjectField = (cert, field) => cert.subjectName.getField(field)[0] ?? "";
export const commonName = (cert) => subjectField(cert, "CN");
const sameName = (a, b) => equalBytes(new Uint8Array(a.toArrayBuffer()), new Uint8Array(b.toArrayBuffer()));

/** Whether `cert` is signed with ECDSA P-256/SHA-256 by `issuer`'s key (the only algorithm the platform's PKIs use). */
export async function signedBy(cert, issuer) {
  const algorithm = cert.signatureAlgorithm;
  if (algorithm?.name !== "ECDSA" || algorithm.hash?.name !== "SHA-256") return false;
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

export const validAt = (cert, when) => when >= cert.notBefore && when <= cert.notAfter;

/**
 * Follows `chain` (leaf first, each signed by the next) up to one of `anchors`,
 * each certificate valid at `when`: returns the path (leaf … anchor-signed
 * certificate or anchor) or throws a CertificateError naming the certificate
 * that fails.
 */
export async function verifyPath(chain, anchors, when) {
  const path = [];
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i];
    path.push(cert);
    if (!validAt(cert, when)) throw new CertificateError(`certificate ${commonName(cert)} was not valid at ${when.toISOString()}`);
    if (anchors.some((a) => equalBytes(certificateDer(a), certificateDer(cert)))) return path; // an anchor ends the path
    const next = chain[i + 1];
    const issuer = next ?? anchors.find((a) => sameName(a.subjectName, cert.issuerName));
    if (!issuer || !(await signedBy(cert, issuer))) throw new CertificateError(`certificate ${commonName(cert)} is not signed by a trusted certificate`);
    if (!next) {
      if (!validAt(issuer, when)) throw new CertificateError(`certificate ${commonName(issuer)} was not valid at ${when.toISOString()}`);
      return path; // signed by an anchor
    }
  }
  throw new CertificateError("an empty certificate chain");
}

/** From an RFC 3161 TimeStampToken (CMS SignedData over a TSTInfo): the message imprint and genTime. */
export function parseTimestampToken(der) {
  let tst;
  try {
    const contentInfo = AsnConvert.parse(asBytes(der), ContentInfo);
    if (contentInfo.contentType !== id_signedData) throw new CertificateError("the token is not CMS SignedData");
    const signedData = AsnConvert.parse(contentInfo.content, SignedData);
    const encap = signedData.encapContentInfo;
    if (encap.eContentType !== id_ct_tstInfo || !encap.eContent?.single) throw new CertificateError("the token does not carry a TSTInfo");
    tst = AsnConvert.parse(encap.eContent.single.buffer, TSTInfo);
  } catch (exc) {
    if (exc instanceof CertificateError) throw exc;
    throw new CertificateError(exc?.message ?? String(exc));
  }
  return {
    policy: tst.policy,
    hashAlgorithm: tst.messageImprint.hashAlgorithm.algorithm,
    hashedMessage: new Uint8Array(tst.messageImprint.hashedMessage.buffer),
    genTime: tst.genTime,
  };
}
