// Package compact is the opt-in binary encoding of the chat protocol: CBOR
// (RFC 8949), asked for per connection by opening the chat data channel
// with the protocol string Protocol. JSON stays the default and the
// reference (docs/protocol.md); a compact packet is the same packet:
//
//   - the two packets that make up nearly all the traffic, a plain
//     message's `message` event and its `ack`, are maps with small integer
//     keys, the ids as the 16 bytes of their ULID and the times as
//     milliseconds since the Unix epoch (a 200-byte text's event shrinks
//     from 369 to about 260 bytes, four to an SCTP packet instead of three);
//   - every other packet is the JSON object as a CBOR map with the same
//     text keys.
//
// The server keeps producing JSON and encodes it once more for the compact
// recipients (FromJSON); what a compact client sends may be either
// encoding, and the server reads it back to JSON (ToJSON) before its
// strict parse, so both encodings meet exactly the same checks.
package compact
