package bench

// After the run: what the protocol promised, what is missing, recovery
// through history, and the final accounting and quantiles.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// expectedTotal is every real-time delivery the protocol promises for the
// measured messages: n−1 per group message, one per destination otherwise.
func (r *run) expectedTotal() int64 {
	var n int64
	for s := range r.cfg.Senders {
		p := r.peers[s]
		p.mu.Lock()
		for _, m := range p.sent {
			if !m.measured {
				continue
			}
			if m.dest < 0 {
				n += int64(r.cfg.N - 1)
			} else {
				n++
			}
		}
		p.mu.Unlock()
	}
	return n
}

// sendersSettled reports whether every measured message was acked and
// echoed to its sender.
func (r *run) sendersSettled() bool {
	for s := range r.cfg.Senders {
		p := r.peers[s]
		p.mu.Lock()
		for _, m := range p.sent {
			if m.measured && (m.seq == 0 || !m.echoed) {
				p.mu.Unlock()
				return false
			}
		}
		p.mu.Unlock()
	}
	return true
}

func (r *run) realtimeTotal() int64 {
	var n int64
	for _, p := range r.peers {
		p.mu.Lock()
		n += p.received
		p.mu.Unlock()
	}
	return n
}

// missing lists the server seqs of the measured messages p should have and
// has not (0 when the sender never got an ack for one).
func (r *run) missing(p *peer) (seqs []int64, unknown int) {
	for s := range r.cfg.Senders {
		if s == p.idx {
			continue
		}
		sp := r.peers[s]
		sp.mu.Lock()
		sent := slices.Clone(sp.sent)
		sp.mu.Unlock()
		p.mu.Lock()
		g := p.got[s]
		for k, m := range sent {
			if !m.measured || (m.dest >= 0 && int(m.dest) != p.idx) {
				continue
			}
			if k < len(g) && g[k] != gotNone {
				continue
			}
			if m.seq == 0 {
				unknown++
			} else {
				seqs = append(seqs, m.seq)
			}
		}
		p.mu.Unlock()
	}
	slices.Sort(seqs)
	slices.Reverse(seqs)
	return seqs, unknown
}

// recover has every participant that misses measured messages page history
// for them, newest gap first, until it has them, the server says there is
// nothing more, or deadline.
func (r *run) recover(ctx context.Context, deadline time.Time) (paging int) {
	var wg sync.WaitGroup
	for _, p := range r.peers {
		seqs, unknown := r.missing(p)
		if len(seqs) == 0 && unknown == 0 {
			continue
		}
		paging++
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.page(ctx, seqs, unknown > 0, deadline)
		}()
	}
	wg.Wait()
	return paging
}

func (p *peer) page(ctx context.Context, seqs []int64, fromTop bool, deadline time.Time) {
	limit := 100
	before := int64(0)
	if !fromTop && len(seqs) > 0 {
		before = seqs[0] + 1
	}
	for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
		cid := "h" + strconv.Itoa(n)
		pkt := fmt.Sprintf(`{"type":"history","clientId":%q,"before":%d,"limit":%d}`, cid, before, limit)
		if err := p.c.SendChat([]byte(pkt)); err != nil {
			return
		}
		var page histPage
		t := time.NewTimer(3 * time.Second)
		timedOut := false
	wait:
		for {
			select {
			case page = <-p.hist:
				if page.ClientID == cid {
					break wait
				}
			case <-t.C:
				timedOut = true
				break wait
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		t.Stop()
		if timedOut || (page.Messages == nil && page.LastSeq == 0) {
			// No answer (dropped by a full queue?) or an error packet:
			// ask again for a smaller page.
			if limit == 1 {
				return
			}
			limit = max(1, limit/4)
			continue
		}
		if len(page.Messages) == 0 {
			return
		}
		low := page.Messages[0].Seq
		for _, m := range page.Messages {
			low = min(low, m.Seq)
		}
		if !page.More || low <= 1 {
			return
		}
		if fromTop {
			before = low
			continue
		}
		// Whatever is still missing at or above low is not in the store.
		seqs, _ = p.r.missing(p)
		i := 0
		for i < len(seqs) && seqs[i] >= low {
			i++
		}
		seqs = seqs[i:]
		if len(seqs) == 0 {
			return
		}
		before = min(low, seqs[0]+1)
	}
}

// account fills the delivery figures of res.
func (r *run) account(res *Result) {
	cfg := r.cfg
	var mainLat, slowLat []float64
	slow := &Group{}
	chatErrs := map[string]int64{}
	var lastRecv time.Time
	for s := range cfg.Senders {
		sp := r.peers[s]
		sp.mu.Lock()
		for _, m := range sp.sent {
			if !m.measured {
				continue
			}
			res.Sent++
			if m.seq == 0 {
				res.AcksMissing++
			}
			if !m.echoed {
				res.EchoesMissing++
			}
			for d, rp := range r.peers {
				if d == s || (m.dest >= 0 && int(m.dest) != d) {
					continue
				}
				if rp.slow {
					slow.Expected++
				} else {
					res.Expected++
				}
			}
		}
		sp.mu.Unlock()
	}
	for _, p := range r.peers {
		p.mu.Lock()
		g := &Group{}
		if p.slow {
			g = slow
			slow.Receivers++
			for _, v := range p.lat {
				slowLat = append(slowLat, float64(v)/1e6)
			}
		} else {
			for _, v := range p.lat {
				mainLat = append(mainLat, float64(v)/1e6)
			}
			if p.lastRecv.After(lastRecv) {
				lastRecv = p.lastRecv
			}
		}
		g.Received += p.received
		g.Recovered += p.recovered
		g.Duplicates += p.dups
		g.Resyncs += p.resyncs
		res.Leaked += p.leaked
		res.Echoes += p.echoes
		for k, v := range p.chatErrors {
			chatErrs[k] += v
		}
		if !p.slow {
			res.Received += p.received
			res.Recovered += p.recovered
			res.Duplicates += p.dups
			res.Resyncs += p.resyncs
		}
		p.mu.Unlock()
	}
	res.Lost = res.Expected - res.Received - res.Recovered
	res.LatencyMS = latency(mainLat)
	if len(chatErrs) > 0 {
		res.ChatErrors = chatErrs
	}
	if cfg.Slow > 0 {
		slow.Lost = slow.Expected - slow.Received - slow.Recovered
		slow.LatencyMS = latency(slowLat)
		res.Slow = slow
	}
	if d := lastRecv.Sub(r.measuredStart).Seconds(); d > 0 {
		res.DeliveredPerSec = float64(res.Received) / max(d, res.MeasuredS)
	}
}

func latency(v []float64) LatencyMS {
	slices.Sort(v)
	return LatencyMS{P50: quantileSorted(v, 0.5), P95: quantileSorted(v, 0.95), P99: quantileSorted(v, 0.99), Max: quantileSorted(v, 1)}
}

func quantile(v []float64, q float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return quantileSorted(v, q)
}

// quantileSorted is the nearest-rank quantile of sorted v (0 if empty).
func quantileSorted(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	i := int(q*float64(len(v))+0.999999) - 1
	i = max(0, min(i, len(v)-1))
	return v[i]
}
