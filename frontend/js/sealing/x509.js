// X.509 certificates and RFC 3161 time-stamp tokens, read with maintained
// libraries (@peculiar/x509 and the @peculiar/asn1-* schemas it is built on)
// instead of a DER reader of our own. The receipt check (receipt.js) and the
// custodians' confirmations (custody.js) both go through here.

// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { ExtendedKeyUsageExtension, X509Certificate } from "@peculiar/x509";
import { AsnConvert } from "@peculiar/asn1-schema";
import { fromBER } from "asn1js";
import { ContentInfo, SignedData, id_signedData } from "@peculiar/asn1-cms";
import { TSTInfo, id_ct_tstInfo } from "@peculiar/asn1-tsp";

import { asBytes, concat, equalBytes, fromBase64, fromHex, sha256, toHex } from "./bytes.js";
import { derToRaw } from "./manifest.js";

export { X509Certificate };

export const OID = {
  sha256: "2.16.840.1.101.3.4.2.1",
  serialNumber: "2.5.4.5",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRsa: "1.2.840.113549.1.1.11",
  timeStamping: "1.3.6.1.5.5.7.3.8",
};
// The DER of the OBJECT IDENTIFIER id-ct-TSTInfo, the value its content-type attribute must hold.
const TST_INFO_OID_DER = fromHex("060b2a864886f70d0109100104");

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

function parseToken(der) {
  try {
    const contentInfo = AsnConvert.parse(asBytes(der), ContentInfo);
    if (contentInfo.contentType !== id_signedData) throw new CertificateError("the token is not CMS SignedData");
    const signedData = AsnConvert.parse(contentInfo.content, SignedData);
    const encap = signedData.encapContentInfo;
    if (encap.eContentType !== id_ct_tstInfo || !encap.eContent?.single) throw new CertificateError("the token does not carry a TSTInfo");
    const tstDer = new Uint8Array(encap.eContent.single.buffer);
    return { signedData, tstDer, tst: AsnConvert.parse(tstDer, TSTInfo) };
  } catch (exc) {
    if (exc instanceof CertificateError) throw exc;
    throw new CertificateError(exc?.message ?? String(exc));
  }
}

/** From an RFC 3161 TimeStampToken (CMS SignedData over a TSTInfo): the message imprint and genTime. */
export function parseTimestampToken(der) {
  const { tst } = parseToken(der);
  return {
    policy: tst.policy,
    hashAlgorithm: tst.messageImprint.hashAlgorithm.algorithm,
    hashedMessage: new Uint8Array(tst.messageImprint.hashedMessage.buffer),
    genTime: tst.genTime,
  };
}

function signedAttribute(signerInfo, type) {
  const found = (signerInfo.signedAttrs ?? []).filter((a) => a.attrType === type);
  if (found.length !== 1 || found[0].attrValues.length !== 1) throw new CertificateError(`the token does not have exactly one signed ${type} attribute`);
  return new Uint8Array(found[0].attrValues[0]);
}

function signerCertificate(signerInfo, carried) {
  const sid = signerInfo.sid;
  for (const cert of carried) {
    if (sid.issuerAndSerialNumber) {
      const serial = toHex(new Uint8Array(sid.issuerAndSerialNumber.serialNumber)).replace(/^(00)+(?=.)/, "");
      const issuer = new Uint8Array(AsnConvert.serialize(sid.issuerAndSerialNumber.issuer));
      if (cert.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, "") === serial && equalBytes(new Uint8Array(cert.issuerName.toArrayBuffer()), issuer)) return cert;
    } else if (sid.subjectKeyIdentifier) {
      const ski = cert.getExtension("2.5.29.14");
      if (ski && ski.keyId === toHex(new Uint8Array(sid.subjectKeyIdentifier.buffer))) return cert;
    }
  }
  throw new CertificateError("the certificate that signed the time-stamp is not in the token");
}

/**
 * The bytes the time-stamp authority signed: its signer's signed attributes exactly as encoded in the token, as
 * the SET OF they are (RFC 5652 §5.4), not their [0] IMPLICIT form. Read with asn1js, which keeps each element's
 * encoding (the schema parser does not keep it for repeated fields), rather than encoded again.
 */
function signedAttributesBytes(der) {
  const bytes = asBytes(der);
  const parsed = fromBER(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const content = parsed.offset === -1 ? null : parsed.result.valueBlock.value?.[1]?.valueBlock.value?.[0];
  const signerInfos = content?.valueBlock.value?.at(-1);
  const attributes = signerInfos?.valueBlock.value?.[0]?.valueBlock.value?.find((e) => e.idBlock.tagClass === 3 && e.idBlock.tagNumber === 0);
  if (!attributes) throw new CertificateError("the token's signed attributes cannot be found");
  const signed = new Uint8Array(attributes.valueBeforeDecodeView);
  signed[0] = 0x31;
  return signed;
}

async function tokenSignatureVerifies(cert, signerInfo, signedBytes) {
  const algorithm = signerInfo.signatureAlgorithm.algorithm;
  const signature = new Uint8Array(signerInfo.signature.buffer);
  if (algorithm === OID.ecdsaWithSha256) {
    const key = await crypto.subtle.importKey("spki", spkiOf(cert), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, derToRaw(signature), signedBytes);
  }
  if (algorithm === OID.sha256WithRsa || algorithm === OID.rsaEncryption) {
    const key = await crypto.subtle.importKey("spki", spkiOf(cert), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
    return crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, signedBytes);
  }
  throw new CertificateError(`the time-stamp is signed with ${algorithm}, which is not supported here`);
}

/**
 * The CMS signature of an RFC 3161 token, checked as far as a browser can
 * (RFC 5652 §5.4): one signer, SHA-256, the signed content-type and message
 * digest attributes over the TSTInfo, the signature over the signed attributes
 * with the certificate the token carries, that certificate for time-stamping
 * and chaining to one of `anchors` at the token's genTime. Not checked here:
 * the ESS signing-certificate attribute (python -m archive.verify does).
 * Returns the signer's certificate; throws a CertificateError.
 */
export async function verifyTimestampSignature(der, anchors) {
  const { signedData, tstDer, tst } = parseToken(der);
  if (signedData.signerInfos.length !== 1) throw new CertificateError(`the token has ${signedData.signerInfos.length} signers, not one`);
  const signerInfo = signedData.signerInfos[0];
  if (signerInfo.digestAlgorithm.algorithm !== OID.sha256 || !signerInfo.signedAttrs?.length) throw new CertificateError("the token is not signed over SHA-256 signed attributes");
  if (!equalBytes(signedAttribute(signerInfo, OID.contentType), TST_INFO_OID_DER)) throw new CertificateError("the signed content-type is not id-ct-TSTInfo");
  if (!equalBytes(signedAttribute(signerInfo, OID.messageDigest), concat(Uint8Array.of(0x04, 0x20), await sha256(tstDer)))) {
    throw new CertificateError("the signed message digest is not the TSTInfo's (the token was changed?)");
  }
  let carried;
  try {
    carried = (signedData.certificates ?? []).filter((c) => c.certificate).map((c) => parseCertificate(new Uint8Array(AsnConvert.serialize(c.certificate))));
  } catch (exc) {
    throw new CertificateError(`a certificate in the token cannot be read (${exc.message})`);
  }
  const signer = signerCertificate(signerInfo, carried);
  const signedBytes = signedAttributesBytes(der);
  let verified = false;
  try {
    verified = await tokenSignatureVerifies(signer, signerInfo, signedBytes);
  } catch (exc) {
    if (exc instanceof CertificateError) throw exc;
    verified = false;
  }
  if (!verified) throw new CertificateError("the time-stamp token's signature does not verify (token changed, or another key?)");
  const usage = signer.getExtension(ExtendedKeyUsageExtension);
  if (!usage?.usages.includes(OID.timeStamping)) throw new CertificateError(`certificate ${commonName(signer)} is not for time-stamping`);
  // The signer, then whichever carried certificates issued it, up to the anchors.
  const chain = [signer];
  while (!anchors.some((a) => equalBytes(certificateDer(a), certificateDer(chain.at(-1))))) {
    const next = carried.find((c) => !chain.includes(c) && sameName(c.subjectName, chain.at(-1).issuerName));
    if (!next) break;
    chain.push(next);
  }
  await verifyPath(chain, anchors, tst.genTime);
  return signer;
}
