package bench

// What each participant receives: message events, acks and history pages,
// recorded for the loss, duplicate and leak accounting.

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// onChat handles every chat packet of this participant, on its client's
// reading goroutine.
func (p *peer) onChat(b []byte) {
	if p.slow && p.r.slowOn.Load() {
		t := time.NewTimer(time.Second)
		select {
		case <-t.C:
		case <-p.r.fast:
			t.Stop()
		}
	}
	now := time.Now()
	if seq, text, ok := fastMessage(b); ok {
		p.onMessage(seq, text, now)
		return
	}
	if cid, seq, ok := fastAck(b); ok {
		p.onAck(cid, seq)
		return
	}
	var head struct {
		Type     string          `json:"type"`
		Message  json.RawMessage `json:"message"`
		Code     string          `json:"code"`
		ClientID string          `json:"clientId"`
		Seq      int64           `json:"seq"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return
	}
	switch head.Type {
	case "message":
		var m struct {
			Seq  int64  `json:"seq"`
			Text string `json:"text"`
		}
		if json.Unmarshal(head.Message, &m) == nil {
			p.onMessage(m.Seq, []byte(m.Text), now)
		}
	case "ack":
		p.onAck([]byte(head.ClientID), head.Seq)
	case "history":
		var h histPage
		if json.Unmarshal(b, &h) != nil {
			return
		}
		p.onHistory(&h)
	case "resync":
		p.mu.Lock()
		p.resyncs++
		p.mu.Unlock()
	case "error":
		p.mu.Lock()
		p.chatErrors[head.Code]++
		p.mu.Unlock()
		if len(head.ClientID) > 0 && head.ClientID[0] == 'h' {
			select {
			case p.hist <- histPage{ClientID: head.ClientID}:
			default:
			}
		}
	}
}

func (p *peer) onMessage(seq int64, text []byte, now time.Time) {
	st, ok := parseText(text)
	if !ok || st.sender < 0 || st.sender >= len(p.got) {
		return // not ours
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st.sender == p.idx {
		p.echoes++
		if st.k < len(p.sent) {
			p.sent[st.k].echoed = true
		}
		return
	}
	if st.dest >= 0 && st.dest != p.idx {
		p.leaked++
		return
	}
	g := p.got[st.sender]
	if st.k >= len(g) {
		g = slices.Grow(g, st.k+1-len(g)+len(g)/2)[:st.k+1]
		p.got[st.sender] = g
	}
	switch g[st.k] {
	case gotRealtime:
		p.dups++
		return
	case gotHistory:
		return // already recovered; a late real-time copy is not a delivery
	}
	g[st.k] = gotRealtime
	if st.phase == phaseWarm {
		if !p.warmSeen[st.sender] {
			p.warmSeen[st.sender] = true
			p.r.warmPairs.Add(1)
		}
		return
	}
	p.received++
	p.lat = append(p.lat, now.UnixNano()-st.sentNs)
	p.lastRecv = now
	p.r.delivered.Add(1)
	p.r.progress.Store(now.UnixNano())
}

func (p *peer) onAck(cid []byte, seq int64) {
	if len(cid) < 2 || (cid[0] != phaseWarm && cid[0] != phaseMeasured) {
		return
	}
	k, err := strconv.Atoi(string(cid[1:]))
	if err != nil {
		return
	}
	p.mu.Lock()
	if k < len(p.sent) {
		if p.sent[k].seq == 0 {
			p.acks++
		}
		p.sent[k].seq = seq
	}
	p.mu.Unlock()
}

// onHistory marks what a history page (a reply to us, or a replay after a
// resync) gives; a private message that is not ours counts as leaked.
func (p *peer) onHistory(h *histPage) {
	p.mu.Lock()
	for _, m := range h.Messages {
		st, ok := parseText([]byte(m.Text))
		if !ok || st.sender < 0 || st.sender >= len(p.got) || st.sender == p.idx {
			continue
		}
		if st.dest >= 0 && st.dest != p.idx {
			p.leaked++
			continue
		}
		g := p.got[st.sender]
		if st.k >= len(g) {
			g = slices.Grow(g, st.k+1-len(g))[:st.k+1]
			p.got[st.sender] = g
		}
		if g[st.k] == gotNone {
			g[st.k] = gotHistory
			if st.phase == phaseMeasured {
				p.recovered++
			}
		}
	}
	p.mu.Unlock()
	if len(h.ClientID) > 0 && h.ClientID[0] == 'h' {
		select {
		case p.hist <- *h:
		default:
		}
	}
}
