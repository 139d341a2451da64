import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { bitString, boolean, explicit, implicitPrimitive, octetString, oid, sequence, set, smallInteger, time, unsignedInteger, utf8String } from './der.js';

/**
 * X.509 certificates for the operator↔data-plane channel, made with node:crypto alone: a private CA
 * and the serving certificates it signs (ECDSA P-256, SHA-256). Only what TLS between Tollgate's own
 * components needs; not a general-purpose CA.
 */
export interface KeyPairPem {
  cert: string;
  key: string;
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));
const DAY_MS = 24 * 60 * 60 * 1000;

function name(commonName: string): Buffer {
  return sequence(set(sequence(oid('2.5.4.3'), utf8String(commonName))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

function keyId(publicKey: KeyObject): Buffer {
  // RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (here: of the whole SPKI, also allowed as "a unique value").
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

function subjectAltName(names: readonly string[]): Buffer {
  return sequence(
    ...names.map((n) => {
      const family = isIP(n);
      if (family === 4) return implicitPrimitive(7, Buffer.from(n.split('.').map(Number)));
      if (family === 6) return implicitPrimitive(7, ipv6Bytes(n));
      return implicitPrimitive(2, Buffer.from(n, 'ascii'));
    }),
  );
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.from(groups.flatMap((g: string) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

interface Issue {
  subject: string;
  publicKey: KeyObject;
  issuer: { name: string; key: KeyObject; keyId: Buffer };
  validityDays: number;
  now: Date;
  ca: boolean;
  altNames?: readonly string[];
}

function certificate(o: Issue): string {
  const extensions = [
    extension('2.5.29.19', true, o.ca ? sequence(boolean(true)) : sequence()),
    // keyUsage: CA digitalSignature+keyCertSign+cRLSign (0x86, 1 unused bit); leaf digitalSignature (0x80, 7 unused).
    extension('2.5.29.15', true, o.ca ? bitString(Buffer.from([0x86]), 1) : bitString(Buffer.from([0x80]), 7)),
    extension('2.5.29.14', false, octetString(keyId(o.publicKey))),
    extension('2.5.29.35', false, sequence(implicitPrimitive(0, o.issuer.keyId))),
  ];
  if (!o.ca) {
    extensions.push(extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))));
    if (o.altNames !== undefined && o.altNames.length > 0) extensions.push(extension('2.5.29.17', false, subjectAltName(o.altNames)));
  }
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  // Valid from an hour ago: clocks of the pods that check it may lag the operator's.
  const notBefore = new Date(o.now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(o.now.getTime() + o.validityDays * DAY_MS);
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    ECDSA_WITH_SHA256,
    name(o.issuer.name),
    sequence(time(notBefore), time(notAfter)),
    name(o.subject),
    o.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, { key: o.issuer.key, dsaEncoding: 'der' });
  const der = sequence(tbs, ECDSA_WITH_SHA256, bitString(signature));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

function newKey(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

const keyPem = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A self-signed CA. */
export function createCa(commonName: string, validityDays: number, now = new Date()): KeyPairPem {
  const { publicKey, privateKey } = newKey();
  const cert = certificate({ subject: commonName, publicKey, issuer: { name: commonName, key: privateKey, keyId: keyId(publicKey) }, validityDays, now, ca: true });
  return { cert, key: keyPem(privateKey) };
}

/** A serving (and client) certificate for `altNames` (DNS names or IP addresses), signed by `ca`. */
export function issueCertificate(ca: KeyPairPem, commonName: string, altNames: readonly string[], validityDays: number, now = new Date()): KeyPairPem {
  const caCert = new X509Certificate(ca.cert);
  const { publicKey, privateKey } = newKey();
  const cert = certificate({
    subject: commonName,
    publicKey,
    issuer: { name: caCert.subject.replace(/^CN=/, ''), key: createPrivateKey(ca.key), keyId: keyId(caCert.publicKey) },
    validityDays,
    now,
    ca: false,
    altNames,
  });
  return { cert, key: keyPem(privateKey) };
}

/** The certificate was signed by this CA and is valid for at least `marginDays` more. */
export function isCurrent(certPem: string, caPem: string, marginDays: number, now = new Date()): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey) && new Date(cert.validTo).getTime() - now.getTime() > marginDays * DAY_MS;
  } catch {
    return false;
  }
}
