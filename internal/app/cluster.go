package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/backchannel-rtc/backchannel/cluster"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/recorder"
)

// ClusterConfig makes the server a node of a cluster sharing one
// PostgreSQL (package cluster, docs/cluster.md).
type ClusterConfig struct {
	// NodeURL is this node's public signaling URL; empty: a single node.
	NodeURL string
	// LeaseTTL and LeaseRenew: a room lease's lifetime and how often it
	// is renewed (defaults 10 s and 2 s).
	LeaseTTL, LeaseRenew time.Duration
	// StartTimeout bounds connecting and registering (default 30 s).
	StartTimeout time.Duration
}

// ErrSQLiteCluster refuses --node-url on the embedded database.
var ErrSQLiteCluster = errors.New("--node-url needs PostgreSQL (--database postgres://…): SQLite cannot be shared by several nodes")

// lateLeases lets the recorder, opened first (it migrates the tables the
// cluster uses), fence its writes with the node started after it.
// Until then nothing is held, so nothing can be written about a room.
type lateLeases struct {
	mu   sync.RWMutex
	node *cluster.Node
}

func (l *lateLeases) get() *cluster.Node {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.node
}

func (l *lateLeases) NodeID() string {
	if n := l.get(); n != nil {
		return n.NodeID()
	}
	return ""
}

func (l *lateLeases) Epoch(room string) (int64, bool) {
	if n := l.get(); n != nil {
		return n.Epoch(room)
	}
	return 0, false
}

func (l *lateLeases) Fenced(room string) {
	if n := l.get(); n != nil {
		n.Fenced(room)
	}
}

// prepareCluster checks the cluster settings and gives the recorder its
// fencing before it opens.
func (a *App) prepareCluster(rc *recorder.Config) error {
	c := a.cfg.Cluster
	if c.NodeURL == "" {
		return nil
	}
	if !recorder.IsPostgres(a.cfg.Database) {
		return ErrSQLiteCluster
	}
	a.leases = &lateLeases{}
	rc.Leases = a.leases
	rc.Node = c.NodeURL
	return nil
}

// startCluster registers the node once the recorder and the SFU exist.
func (a *App) startCluster() error {
	c := a.cfg.Cluster
	if c.NodeURL == "" || a.Recorder == nil {
		return nil
	}
	timeout := c.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m := cluster.NewMetrics()
	for _, col := range m.Collectors() {
		if err := a.registry.Register(col); err != nil {
			return err
		}
	}
	n, err := cluster.Start(ctx, cluster.Config{
		DSN: a.cfg.Database, URL: c.NodeURL, APIKey: a.cfg.APIKey, APISecret: a.cfg.APISecret,
		TTL: c.LeaseTTL, Renew: c.LeaseRenew, Logger: a.log, Metrics: m,
		Hooks: cluster.Hooks{
			Load:        a.SFU.Counts,
			Stop:        a.Chat.Forget,
			Move:        func(room string) { a.SFU.CloseRoom(room, protocol.ReasonMoved) },
			InUse:       func(room string) bool { return a.SFU.HasRoom(room) || a.Chat.Loaded(room) },
			Flush:       a.Recorder.Flush,
			CloseOrphan: a.Recorder.CloseOrphan,
		},
		OrphanAfter: max(a.Chat.Config().DepartureTimeout, time.Millisecond), // negative: at once
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	a.leases.mu.Lock()
	a.leases.node = n
	a.leases.mu.Unlock()
	a.Node = n
	return nil
}

func (a *App) closeNode() {
	if a.Node != nil {
		a.Node.Close()
	}
}
