// Package bench is the chat load generator behind `backchannel bench`: n
// Go clients (package client) join one room on a server over loopback, some
// of them send chat messages at a fixed rate or as fast as their data
// channel drains, and every receipt is checked and timed on one clock.
//
// A run has four phases: join (each participant with its own token, one
// after another unless JoinParallel says otherwise), warm-up (until every
// receiver has seen every sender), the measured phase, and a drain (until
// every promised delivery arrived or nothing more arrives). Receivers that
// were told to resync, or that miss messages, then page `history` for what
// they lack, and the result says what came in real time, what only through
// history, and what never.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/client"
)

// histPage is a decoded history packet.
type histPage struct {
	ClientID string `json:"clientId"`
	Messages []struct {
		Seq    int64    `json:"seq"`
		Sender string   `json:"sender"`
		Text   string   `json:"text"`
		To     []string `json:"to"`
	} `json:"messages"`
	More    bool  `json:"more"`
	LastSeq int64 `json:"lastSeq"`
	Replay  bool  `json:"replay"`
}

// sentMsg is what a sender remembers of one message.
type sentMsg struct {
	dest     int32 // -1: group
	measured bool
	seq      int64 // server seq, from the ack
	echoed   bool
}

const (
	gotNone     = 0
	gotRealtime = 1
	gotHistory  = 2
)

// peer is one participant: its client, what it sent and what it received.
type peer struct {
	r    *run
	idx  int
	id   string
	slow bool
	c    *client.Client
	join time.Duration

	mu sync.Mutex
	// sender side
	sent []sentMsg
	acks int64
	// receiver side: got[s][k] for sender s's message k
	got        [][]uint8
	warmSeen   []bool
	lat        []int64 // ns, measured real-time receipts
	received   int64
	recovered  int64
	dups       int64
	leaked     int64
	echoes     int64
	resyncs    int64
	lastRecv   time.Time
	chatErrors map[string]int64
	hist       chan histPage
}

type run struct {
	cfg    Config
	peers  []*peer
	slowOn atomic.Bool
	fast   chan struct{} // closed when slow receivers go back to full speed

	measuredStart time.Time
	delivered     atomic.Int64 // measured real-time deliveries, everyone
	warmPairs     atomic.Int64
	progress      atomic.Int64 // last receipt, unix ns
}

// Run performs one run and reports it. It stops by itself: every phase is
// bounded in time, and ctx ends it early.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, fast: make(chan struct{})}
	res := &Result{
		Participants: cfg.N, Senders: cfg.Senders, Burst: cfg.Burst, Private: cfg.Private,
		SizeBytes: cfg.Size, ServerPID: cfg.PID, ServerDropped: -1,
		RmemMax: readSysctl("net.core.rmem_max"), WmemMax: readSysctl("net.core.wmem_max"),
	}
	if !cfg.Burst {
		res.Rate = cfg.Rate
	}
	// A hard bound on the whole run, whatever happens.
	limit := time.Duration(cfg.N)*15*time.Second/time.Duration(cfg.JoinParallel) +
		cfg.Warmup + cfg.Duration + cfg.Drain + 90*time.Second
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	keys := auth.KeyProvider{APIKey: cfg.APIKey, APISecret: cfg.APISecret}
	for i := range cfg.N {
		p := &peer{r: r, idx: i, id: fmt.Sprintf("bench-%03d", i), slow: i >= cfg.N-cfg.Slow,
			got: make([][]uint8, cfg.Senders), warmSeen: make([]bool, cfg.Senders),
			chatErrors: map[string]int64{}, hist: make(chan histPage, 4)}
		r.peers = append(r.peers, p)
	}
	defer r.closeAll()
	droppedBefore := scrapeCounter(httpURL(cfg.URL), "backchannel_data_messages_dropped_total")

	// Join.
	if err := r.joinAll(ctx, keys); err != nil {
		return nil, err
	}
	joins := make([]float64, 0, cfg.N)
	for _, p := range r.peers {
		joins = append(joins, ms(p.join))
	}
	res.JoinMS = JoinMS{P50: quantile(joins, 0.5), P95: quantile(joins, 0.95), Max: quantile(joins, 1)}
	cfg.Logf("joined %d participants: p50 %.1f ms, max %.1f ms", cfg.N, res.JoinMS.P50, res.JoinMS.Max)

	// Warm-up.
	wstart := time.Now()
	if err := r.warmup(ctx); err != nil {
		return nil, err
	}
	res.WarmupS = time.Since(wstart).Seconds()
	cfg.Logf("warm-up done in %.1f s", res.WarmupS)

	// Measured phase, with the server's CPU and memory sampled.
	udp0, _ := readUDP()
	selfCPU0, _ := procCPU(selfPID())
	var cpu0 time.Duration
	var vol0, invol0 int64
	var switchesErr error // the first reading's: without it there is no difference to take
	var mon *monitor
	if cfg.PID > 0 {
		var err error
		if cpu0, err = procCPU(cfg.PID); err != nil {
			return nil, fmt.Errorf("bench: --pid %d: %w", cfg.PID, err)
		}
		vol0, invol0, switchesErr = procSwitches(cfg.PID)
		mon = startMonitor(cfg.PID)
	}
	r.measuredStart = time.Now()
	r.progress.Store(r.measuredStart.UnixNano())
	if cfg.Slow > 0 {
		r.slowOn.Store(true)
	}
	end := r.measuredStart.Add(cfg.Duration)
	var wg sync.WaitGroup
	var sendErrs atomic.Int64
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	for s := range cfg.Senders {
		wg.Add(1)
		seed := rng.Uint64()
		go func() {
			defer wg.Done()
			sendErrs.Add(r.peers[s].sendLoop(ctx, end, seed))
		}()
	}
	wg.Wait()
	res.SendErrors = sendErrs.Load()
	measuredEnd := time.Now()
	res.MeasuredS = measuredEnd.Sub(r.measuredStart).Seconds()
	r.slowOn.Store(false)
	close(r.fast)
	cfg.Logf("measured phase done (%.1f s); draining", res.MeasuredS)

	// Drain: until every promised real-time delivery arrived and every
	// sender has its acks and echoes, nothing arrived for Quiet, or Drain
	// passed.
	expected := r.expectedTotal()
	dstart := time.Now()
	deadline := dstart.Add(cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if r.realtimeTotal() >= expected && r.sendersSettled() {
			break
		}
		if time.Since(time.Unix(0, r.progress.Load())) > cfg.Quiet {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.DrainS = time.Since(dstart).Seconds()
	var switches *Switches
	if cfg.PID > 0 {
		cpu1, err := procCPU(cfg.PID)
		if err == nil {
			res.ServerCPUSeconds = (cpu1 - cpu0).Seconds()
		}
		if vol1, invol1, err := procSwitches(cfg.PID); err == nil && switchesErr == nil {
			switches = &Switches{Voluntary: float64(vol1 - vol0), Involuntary: float64(invol1 - invol0)}
		}
		res.ServerPeakRSSBytes = mon.stop()
	}
	selfCPU1, _ := procCPU(selfPID())
	res.ClientCPUSecs = (selfCPU1 - selfCPU0).Seconds()
	udp1, _ := readUDP()
	res.UDPErrors = udp1.sub(udp0)

	// Recovery through history, for whoever misses something.
	rstart := time.Now()
	if n := r.recover(ctx, time.Now().Add(cfg.Drain)); n > 0 {
		cfg.Logf("drained in %.1f s; %d participants paged history for %.1f s", res.DrainS, n, time.Since(rstart).Seconds())
	}

	r.account(res)
	if d := r.delivered.Load(); d > 0 && cfg.PID > 0 {
		res.ServerCPUUsPerDelivery = res.ServerCPUSeconds * 1e6 / float64(d)
		if switches != nil {
			switches.Voluntary /= float64(d)
			switches.Involuntary /= float64(d)
			res.ServerSwitchesPerDelivery = switches
		}
	}
	if droppedBefore >= 0 {
		if after := scrapeCounter(httpURL(cfg.URL), "backchannel_data_messages_dropped_total"); after >= 0 {
			res.ServerDropped = after - droppedBefore
		}
	}
	for _, p := range r.peers {
		select {
		case <-p.c.Done():
			res.Disconnected++
		default:
		}
	}
	res.LoadAvg = loadAvg()
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// httpURL turns the signaling URL into the server's HTTP base.
func httpURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawQuery = "", ""
	return u.String()
}

func (r *run) joinAll(ctx context.Context, keys auth.KeyProvider) error {
	sem := make(chan struct{}, r.cfg.JoinParallel)
	errs := make(chan error, len(r.peers))
	var wg sync.WaitGroup
	for _, p := range r.peers {
		tok, err := keys.Mint(auth.TokenOptions{Identity: p.id, Name: "Bench " + strconv.Itoa(p.idx), TTL: 2 * time.Hour,
			Grant: auth.VideoGrant{Room: r.cfg.Room, RoomJoin: true}})
		if err != nil {
			return err
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			start := time.Now()
			c, err := client.Join(jctx, r.cfg.URL, tok, client.Options{
				LoopbackOnly: true, HighWater: r.cfg.HighWater, OnChat: p.onChat,
			})
			if err != nil {
				errs <- fmt.Errorf("bench: join %s: %w", p.id, err)
				return
			}
			p.join = time.Since(start)
			p.mu.Lock()
			p.c = c
			p.mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when there was none
}

func (r *run) closeAll() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, p := range r.peers {
		p.mu.Lock()
		c := p.c
		p.mu.Unlock()
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = c.Close()
		}()
	}
	wg.Wait()
}

// warmup has every sender send until every receiver has seen it: one group
// message a round, or (private) one private message to each other
// participant a round.
func (r *run) warmup(ctx context.Context) error {
	cfg := r.cfg
	want := int64(cfg.Senders * (cfg.N - 1))
	deadline := time.Now().Add(cfg.Warmup)
	for round := 0; ; round++ {
		for s := range cfg.Senders {
			p := r.peers[s]
			if cfg.Private {
				for d := range cfg.N {
					if d != s && !r.peers[d].sawWarm(s) {
						if err := p.send(phaseWarm, d); err != nil {
							return err
						}
					}
				}
			} else if !r.allSaw(s) {
				if err := p.send(phaseWarm, -1); err != nil {
					return err
				}
			}
		}
		wait := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(wait) {
			if r.warmPairs.Load() >= want {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: warm-up: after %v only %d of %d receiver/sender pairs saw a message (server rate limit? start it with --chat-rate 0)",
				cfg.Warmup, r.warmPairs.Load(), want)
		}
	}
}

func (r *run) allSaw(s int) bool {
	for d, p := range r.peers {
		if d != s && !p.sawWarm(s) {
			return false
		}
	}
	return true
}

func (p *peer) sawWarm(s int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.warmSeen[s]
}

// send sends this sender's next message, of the given phase, to dest (-1:
// everyone).
func (p *peer) send(phase byte, dest int) error {
	p.mu.Lock()
	k := len(p.sent)
	p.sent = append(p.sent, sentMsg{dest: int32(dest), measured: phase == phaseMeasured})
	p.mu.Unlock()
	var cid [24]byte
	clientID := strconv.AppendInt(append(cid[:0], phase), int64(k), 10)
	to := ""
	if dest >= 0 {
		to = p.r.peers[dest].id
	}
	text := appendText(make([]byte, 0, p.r.cfg.Size+48), phase, p.idx, k, time.Now().UnixNano(), dest, p.r.cfg.Size)
	pkt := appendChatPacket(make([]byte, 0, len(text)+96), string(clientID), text, to)
	if err := p.c.SendChat(pkt); err != nil {
		p.mu.Lock()
		p.sent = p.sent[:k] // never went out: not sent, not expected
		p.mu.Unlock()
		return err
	}
	return nil
}

// sendLoop sends measured messages until end: at Rate on a fixed schedule
// (open loop, starting at a random offset so senders do not tick
// together), or back to back with Burst. It returns the send errors.
func (p *peer) sendLoop(ctx context.Context, end time.Time, seed uint64) int64 {
	cfg := p.r.cfg
	rng := rand.New(rand.NewPCG(seed, uint64(p.idx)))
	dest := func() int {
		if !cfg.Private {
			return -1
		}
		d := rng.IntN(cfg.N - 1)
		if d >= p.idx {
			d++
		}
		return d
	}
	var errs int64
	if cfg.Burst {
		for time.Now().Before(end) && ctx.Err() == nil {
			if err := p.send(phaseMeasured, dest()); err != nil {
				errs++
				if errors.Is(err, client.ErrClosed) {
					return errs
				}
			}
		}
		return errs
	}
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	next := p.r.measuredStart.Add(time.Duration(rng.Int64N(int64(interval))))
	for next.Before(end) && ctx.Err() == nil {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		if err := p.send(phaseMeasured, dest()); err != nil {
			errs++
			if errors.Is(err, client.ErrClosed) {
				return errs
			}
		}
		next = next.Add(interval)
	}
	return errs
}
