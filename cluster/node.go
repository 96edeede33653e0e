package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"
)

// Hooks are what the node asks of the rest of the server. They must be
// safe for concurrent use.
type Hooks struct {
	// Load is this node's load, published with each heartbeat.
	Load func() (participants, rooms int)
	// Stop makes this node stop serving room's chat at once: nothing more
	// is written about it (its in-memory state is dropped, so a later
	// tenure loads it again from the database).
	Stop func(room string)
	// Move disconnects room's participants, telling them to reconnect:
	// the room is (or will be) hosted elsewhere.
	Move func(room string)
	// InUse reports whether anything on this node still serves room
	// (participants, chat state, writes in flight). A room not in use has
	// its lease released.
	InUse func(room string) bool
	// Flush waits until every write queued so far is durable (Drain).
	Flush func(ctx context.Context) error
	// CloseOrphan ends the open session of a room left behind by a dead
	// host, this node holding its lease at epoch (orphans.go); it reports
	// whether there was one. Nil: no sweep.
	CloseOrphan func(ctx context.Context, room string, epoch int64) (bool, error)
}

// Config of a cluster node.
type Config struct {
	// DSN is the PostgreSQL every node shares.
	DSN string
	// URL is this node's public signaling URL (ws://, wss://, http://,
	// https://): where redirected clients connect.
	URL string
	// APIKey and APISecret must be the same on every node; a node whose
	// secret differs from a live peer's is refused at start.
	APIKey, APISecret string
	// TTL is a lease's and a heartbeat's lifetime (default 10 s); Renew
	// how often they are renewed (default 2 s). Renew must be well under
	// TTL: a node keeps its rooms only while it renews them.
	TTL, Renew time.Duration
	// OrphanAfter is how long a room's lease must have been expired, with
	// its meeting session still open, before a node ends that session
	// (default 20 s, chat's departure timeout; orphans.go).
	OrphanAfter time.Duration
	Hooks       Hooks
	Logger      *slog.Logger
	// Metrics receives the node's counters (nil: none).
	Metrics *Metrics
}

// Errors at start-up.
var (
	ErrConfig      = errors.New("cluster: bad configuration")
	ErrURLClaimed  = errors.New("cluster: the node URL is claimed by another live node")
	ErrSecretDiffs = errors.New("cluster: this node's API key or secret differs from a live node's")
)

// Node is this process's membership of the cluster.
type Node struct {
	cfg  Config
	pool *pgxpool.Pool
	id   string
	log  *slog.Logger
	m    *Metrics

	mu       sync.Mutex
	held     map[string]*lease
	draining bool
	paused   chan struct{} // Pause
	peers    []string      // hosts of the live nodes' URLs

	fenced chan string // rooms the recorder found fenced
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	bg     sync.WaitGroup // lose goroutines
	cpu    cpuMeter
}

// lease is a room this node hosts.
type lease struct {
	epoch int64
	refs  int // joins in progress or participants connected through Enter
	// leaving: the lease is being lost or released; Enter waits until
	// the entry is gone rather than use the old tenure's state.
	leaving bool
}

// Start registers the node and starts renewing. It fails at once if the
// URL is claimed by another live node or a live node has another secret.
// ctx bounds the start-up (connecting and registering).
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Second
	}
	if cfg.Renew <= 0 {
		cfg.Renew = 2 * time.Second
	}
	if cfg.Renew*2 > cfg.TTL {
		return nil, fmt.Errorf("%w: the lease renewal (%s) must be at most half the TTL (%s)", ErrConfig, cfg.Renew, cfg.TTL)
	}
	if cfg.OrphanAfter <= 0 {
		cfg.OrphanAfter = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := checkURL(cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	// Renewals must not queue behind anything: a pool of their own.
	pcfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, pool: pool, id: ulid.Make().String(), log: cfg.Logger.With("component", "cluster"),
		m: cfg.Metrics, held: map[string]*lease{},
		fenced: make(chan string, 64), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if u, err := url.Parse(cfg.URL); err == nil {
		n.peers = []string{u.Host}
	}
	if err := n.register(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	n.log.Info("cluster node started", "node", n.id, "url", cfg.URL, "lease_ttl", cfg.TTL, "renew", cfg.Renew)
	go n.loop()
	return n, nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: --node-url %q is not an absolute URL", ErrConfig, raw)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
		return nil
	}
	return fmt.Errorf("%w: --node-url %q must be ws://, wss://, http:// or https://", ErrConfig, raw)
}

// ID is this node's id in cluster_nodes and room_leases (one per process).
func (n *Node) ID() string { return n.id }

// NodeID implements recorder.Leases.
func (n *Node) NodeID() string { return n.id }

// TTL is how long this cluster's leases and heartbeats live: a node whose
// heartbeat is older is dead.
func (n *Node) TTL() time.Duration { return n.cfg.TTL }

// URL is this node's public URL.
func (n *Node) URL() string { return n.cfg.URL }

// secretCheck identifies the API key and secret without revealing the
// secret: nodes compare it at start.
func secretCheck(key, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("backchannel cluster secret check\x00" + key))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// register checks the URL and the secret against the live nodes and
// inserts this node's row, in one transaction under an advisory lock so
// that two nodes starting at once are checked against each other.
func (n *Node) register(ctx context.Context) error {
	tx, err := n.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('backchannel cluster registry'))`); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT id, url, secret_check FROM cluster_nodes
		WHERE heartbeat_at > now() - make_interval(secs => $1)`, n.cfg.TTL.Seconds())
	if err != nil {
		return err
	}
	check := secretCheck(n.cfg.APIKey, n.cfg.APISecret)
	for rows.Next() {
		var id, u, sc string
		if err := rows.Scan(&id, &u, &sc); err != nil {
			rows.Close()
			return err
		}
		if u == n.cfg.URL {
			rows.Close()
			return fmt.Errorf("%w: %s is node %s's, whose heartbeat is less than %s old; give each node its own --node-url (a restarted node may reuse its URL once the old heartbeat is %s old)",
				ErrURLClaimed, u, id, n.cfg.TTL, n.cfg.TTL)
		}
		if sc != check {
			rows.Close()
			return fmt.Errorf("%w: node %s (%s); every node of a cluster needs the same --api-key and --api-secret", ErrSecretDiffs, id, u)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Rows of nodes dead for a day are of no use to anyone.
	if _, err := tx.Exec(ctx, `DELETE FROM cluster_nodes WHERE heartbeat_at < now() - interval '1 day'`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO cluster_nodes (id, url, secret_check, started_at, heartbeat_at)
		VALUES ($1, $2, $3, now(), now())`, n.id, n.cfg.URL, check); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Epoch implements recorder.Leases.
func (n *Node) Epoch(room string) (int64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.held[room]
	if l == nil || l.leaving {
		return 0, false
	}
	return l.epoch, true
}

// Fenced implements recorder.Leases: a write found room's lease gone.
func (n *Node) Fenced(room string) {
	select {
	case n.fenced <- room:
	default: // the next renewal finds out
	}
}

// Rooms returns the rooms this node hosts, with their epochs.
func (n *Node) Rooms() map[string]int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]int64, len(n.held))
	for r, l := range n.held {
		if !l.leaving {
			out[r] = l.epoch
		}
	}
	return out
}

// Close stops renewing and removes the node's row: its leases run out
// (use Drain first to hand them over at once).
func (n *Node) Close() {
	n.once.Do(func() {
		close(n.stop)
		<-n.done
		n.bg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if _, err := n.pool.Exec(ctx, `DELETE FROM cluster_nodes WHERE id = $1`, n.id); err != nil {
			n.log.Warn("cluster: could not remove the node's row", "err", err)
		}
		n.pool.Close()
	})
}
