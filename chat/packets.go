package chat

import "sync/atomic"

// Packets are counted by type and outcome, for the operator's metrics:
// the outcome is "ok" when the packet's handler accepted it (a store write
// may still fail later, and is counted by the store), or the error code
// it was answered with. A packet that did not parse has type "invalid".

// packetOutcomes are the outcomes counted by name; any other code is
// "other". Index 0 is "ok".
var packetOutcomes = []Code{"ok", CodeBadPacket, CodePacketTooLarge, CodeUnknownType, CodeEmpty, CodeTooLong,
	CodeRateLimited, CodeForbidden, CodeNotFound, CodeMuted, CodeTooMany, CodeUnavailable, CodeRejected, "other"}

var outcomeIndex = func() map[Code]int {
	m := make(map[Code]int, len(packetOutcomes))
	for i, c := range packetOutcomes {
		m[c] = i
	}
	return m
}()

// packetCounts[op][outcome]; op 0 is a packet that did not parse.
type packetCounts [opKeys + 1][14]atomic.Int64

func (p *packetCounts) add(o op, code Code) {
	i, ok := outcomeIndex[code]
	if !ok {
		i = outcomeIndex["other"]
	}
	if code == "" {
		i = 0
	}
	p[o][i].Add(1)
}

// PacketCount is how many packets of one type had one outcome.
type PacketCount struct {
	Type, Outcome string
	N             int64
}

func (p *packetCounts) snapshot() []PacketCount {
	names := make(map[op]string, len(opNames)+1)
	for n, o := range opNames {
		names[o] = n
	}
	names[0] = "invalid"
	var out []PacketCount
	for o := range p {
		for i := range p[o] {
			if n := p[o][i].Load(); n > 0 {
				out = append(out, PacketCount{Type: names[op(o)], Outcome: string(packetOutcomes[i]), N: n})
			}
		}
	}
	return out
}
