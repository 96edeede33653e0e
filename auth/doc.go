// Package auth mints and verifies access tokens: HS256 JWTs signed with the
// server's API secret, with the claims laid out as LiveKit lays them out
// (iss = API key, sub = identity, name, nbf, exp and a "video" grant object),
// so tokens minted by LiveKit's tools work here too. Identity comes only from
// a verified token, never from a packet.
package auth
