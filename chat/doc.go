// Package chat owns the chat protocol that travels on each participant's
// `chat` data channel: it parses and validates packets, binds the sender to
// the connection's token identity, assigns ids, order and time, decides who
// receives what (everyone, or a private message's destinations), applies
// limits and serves history. It knows nothing of Pion: the SFU hands it a
// Conn per participant and calls the Service and Session interfaces; what it
// decides is written to a Store (the recorder, or MemoryStore). The packets
// and the message object it reads and writes are defined in package
// protocol, shared with the clients.
package chat
