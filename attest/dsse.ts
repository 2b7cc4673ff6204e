// DSSE pre-authentication encoding, written from the DSSE v1 protocol text:
//   PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
// where LEN is the byte length as ASCII decimal without leading zeros and SP is one space.
// Kept independent of @sigstore/* on purpose: tests check signatures produced through
// @sigstore/sign with this and node:crypto directly, so a bug shared by the sigstore
// signer and verifier cannot pass unnoticed.

export function preAuthEncoding(payloadType: string, payload: Uint8Array | string): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'ascii'),
    type,
    Buffer.from(` ${body.length} `, 'ascii'),
    body,
  ]);
}
