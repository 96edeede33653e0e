// Package e2ee is the end-to-end encryption of private chat messages: the
// envelope that travels in place of a private message's content, the checks
// a server makes on it without any key, and the client side that seals and
// opens it.
//
// The construction (docs/e2ee.md gives it byte by byte):
//
//   - every device has a key pair for the HPKE KEM DHKEM(P-256, HKDF-SHA256)
//     (RFC 9180); its public key travels as standard base64 of the 65-byte
//     uncompressed point;
//   - a message's content is encrypted once with AES-128-GCM under a fresh
//     random content key and a random 96-bit nonce;
//   - the content key is sealed for each destination and for the sender
//     with HPKE base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256,
//     AES-128-GCM, one single-shot context per recipient, with the info
//     string "backchannel e2ee v1 key" || 0x00 || recipient identity;
//   - the content and every sealed key are bound, as AEAD additional data,
//     to the room, the sender, the destinations and (for an edit) the
//     edited message's id, so that a server cannot move an envelope to
//     another conversation or present it as another sender's.
//
// The server calls Validate and stores the envelope unchanged; it never
// holds a private key. Clients call Seal and Open. Both sides can keep the
// last announced key of each identity in a KeyRing, which also tells a key
// change. Base mode authenticates
// no sender: the threat model in docs/e2ee.md says what that leaves open.
//
// Go uses only the standard library (crypto/hpke, crypto/ecdh,
// crypto/aes, crypto/cipher); the browser's web/static/e2ee.js implements
// the same construction on WebCrypto, and the tests of both run the RFC 9180
// test vectors of this suite and each other's envelopes.
package e2ee
