// Command echobot is the smallest useful bot: it joins a room with the Go
// client and answers every "!ping" with "pong" (privately to a private
// ping). It imports only the client and the shared protocol package.
//
//	go run ./examples/echobot -url http://127.0.0.1:7880 -token "$TOKEN"
package main
