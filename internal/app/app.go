package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/cluster"
	"github.com/backchannel-rtc/backchannel/internal/logs"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/recorder"
	recorderapi "github.com/backchannel-rtc/backchannel/recorder/api"
	"github.com/backchannel-rtc/backchannel/recorder/attachments"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
	"github.com/backchannel-rtc/backchannel/sfu"
	"github.com/backchannel-rtc/backchannel/signaling"
	"github.com/backchannel-rtc/backchannel/web"
)

// UploadLimits bound attachment uploads (recorder/attachments).
type UploadLimits struct {
	Rate      float64 // uploads per minute per participant (room, identity)
	Burst     int     // uploads a participant may make at once
	RoomQuota int64   // bytes of stored attachments per room
	// Grace is how long an upload no message references is kept (0:
	// forever).
	Grace time.Duration
}

// Config is everything `backchannel serve` can be told.
type Config struct {
	Addr    string // HTTP listener, e.g. ":7880"
	DataDir string // SQLite file and attachments
	// Database is a postgres:// URL; empty uses SQLite under DataDir.
	Database string
	// PublicURL is the base of absolute URLs the API hands out (download
	// links); empty uses the request's Host.
	PublicURL string
	APIKey    string
	APISecret string
	Dev       bool

	RTC            sfu.Config
	AllowedOrigins []string

	// ChatConfig configures the chat protocol (nil: chat.DefaultConfig()).
	ChatConfig *chat.Config
	// Chat replaces the chat service altogether (transport tests use a
	// bare relay); nil builds the real one on the configured store.
	Chat   chat.Service
	Logger *slog.Logger

	// Webhooks configures the webhook endpoints and their delivery (the
	// API secret and public URL are the server's).
	Webhooks webhook.Config

	// Build names the binary in backchannel_build_info.
	Build Build

	// Uploads limits attachment uploads (zero fields: no limit).
	Uploads UploadLimits

	// HTTP bounds connections that are not signaling sockets (zero
	// fields: DefaultHTTPLimits).
	HTTP HTTPLimits

	// Cluster makes this server a node of a cluster (cluster.go); the
	// zero value is a single node.
	Cluster ClusterConfig
}

// App is a running server.
type App struct {
	cfg  Config
	log  *slog.Logger
	SFU  *sfu.Server
	Keys auth.KeyProvider
	// Chat and Recorder are the chat service and its store, when the app
	// built them (Config.Chat nil).
	Chat     *chat.Server
	Recorder *recorder.Recorder
	// Webhooks derives, delivers and lists webhook events (with Recorder).
	Webhooks *webhook.Delivery
	ln       net.Listener
	mux      *http.ServeMux
	http     *http.Server
	guard    *connGuard
	// registry is what /metrics serves; httpSeconds its request histogram.
	registry      *prometheus.Registry
	httpSeconds   *prometheus.HistogramVec
	commitSeconds prometheus.Histogram
	batchSize     prometheus.Histogram
	signaling     *signaling.Handler
	attachments   *attachments.Service // the upload sweeper
	done          chan error
	// Node is this server's cluster membership (nil on a single node).
	Node   *cluster.Node
	leases *lateLeases

	closeOnce sync.Once
	closeErr  error
}

// New builds the server and binds its sockets; Serve starts it.
func New(cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.APIKey == "" || cfg.APISecret == "" {
		return nil, errors.New("an API key and secret are required (or --dev)")
	}
	cfg.RTC.Logger = cfg.Logger
	a := &App{cfg: cfg, log: cfg.Logger, Keys: auth.KeyProvider{APIKey: cfg.APIKey, APISecret: cfg.APISecret, Leeway: 5 * time.Second}}
	var err error
	a.newHistograms()
	if cfg.Chat == nil {
		ccfg := chat.DefaultConfig()
		if cfg.ChatConfig != nil {
			ccfg = *cfg.ChatConfig
		}
		rc := recorder.Config{DSN: cfg.Database, DataDir: cfg.DataDir, Logger: cfg.Logger, OnCommit: a.observeCommit}
		if err := a.prepareCluster(&rc); err != nil {
			return nil, err
		}
		if err := a.prepareWebhooks(&rc); err != nil {
			return nil, err
		}
		if a.Recorder, err = recorder.Open(rc); err != nil {
			return nil, err
		}
		a.Chat = chat.NewServer(a.Recorder, ccfg, cfg.Logger)
		cfg.Chat = a.Chat
	}
	fail := func(err error) (*App, error) {
		if a.Recorder != nil {
			_ = a.Recorder.Close()
		}
		return nil, err
	}
	// The server's metrics go on the registry /metrics serves; nothing
	// registers itself at package init.
	if a.registry, err = a.newMetrics(); err != nil {
		return fail(err)
	}
	if a.SFU, err = sfu.NewServer(cfg.RTC, cfg.Chat); err != nil {
		return fail(err)
	}
	if err := a.startCluster(); err != nil {
		a.SFU.Close()
		return fail(err)
	}
	if a.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		a.closeNode()
		a.SFU.Close()
		return fail(fmt.Errorf("listen %s: %w", cfg.Addr, err))
	}
	mux := http.NewServeMux()
	scfg := signaling.Config{Keys: a.Keys, AllowedOrigins: cfg.AllowedOrigins, Logger: cfg.Logger}
	if a.Node != nil {
		scfg.Placer, scfg.OriginAllowed, scfg.NodeURL = a.Node, a.Node.IsPeerOrigin, a.Node.URL()
	}
	a.signaling = signaling.NewHandler(scfg, a.SFU)
	mux.Handle("/v1/rtc", a.signaling)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		rooms, ps := a.SFU.Counts()
		w.Header().Set("Content-Type", "application/json")
		if a.Node != nil {
			fmt.Fprintf(w, `{"status":"ok","rooms":%d,"participants":%d,"node":%q,"nodeUrl":%q,"leases":%d}`+"\n",
				rooms, ps, a.Node.ID(), a.Node.URL(), len(a.Node.Rooms()))
			return
		}
		fmt.Fprintf(w, `{"status":"ok","rooms":%d,"participants":%d}`+"\n", rooms, ps)
	})
	mux.Handle("GET /metrics", a.metricsHandler())
	mux.Handle("GET /v1/config", web.Config(cfg.Dev))
	if cfg.Dev {
		mux.HandleFunc("GET /v1/dev/token", a.devToken)
	}
	if a.Recorder != nil {
		a.attachments, err = recorderapi.Register(mux, a.Recorder, a.Keys, recorderapi.Config{PublicURL: cfg.PublicURL,
			UploadRate: cfg.Uploads.Rate, UploadBurst: cfg.Uploads.Burst, UploadRoomQuota: cfg.Uploads.RoomQuota,
			UploadGrace: cfg.Uploads.Grace})
		if err == nil {
			err = a.startWebhooks(mux)
		}
		if err != nil {
			if a.attachments != nil {
				_ = a.attachments.Close()
			}
			a.ln.Close()
			a.closeNode()
			a.SFU.Close()
			return fail(err)
		}
	}
	mux.Handle("/", web.Handler())
	a.mux = mux
	// One log line per request, with a request id (internal/logs).
	a.http = a.newHTTPServer(logs.RequestsObserved(cfg.Logger, mux, a.observeRequest))
	a.http.ErrorLog = slog.NewLogLogger(cfg.Logger.With("component", "http").Handler(), slog.LevelWarn)
	return a, nil
}

// Mux lets later parts (recorder API, attachments) add their routes.
func (a *App) Mux() *http.ServeMux { return a.mux }

// Serve runs the HTTP listener in the background.
func (a *App) Serve() {
	a.done = make(chan error, 1)
	go func() { a.done <- a.http.Serve(a.ln) }()
}

// Addr is the HTTP listener's address.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// URL is the server's base URL (http://host:port).
func (a *App) URL() string { return "http://" + a.ln.Addr().String() }

// Token mints a token for tests and --dev.
func (a *App) Token(room, identity, name string, admin bool) (string, error) {
	return a.Keys.Mint(auth.TokenOptions{Identity: identity, Name: name, TTL: 6 * time.Hour,
		Grant: auth.VideoGrant{Room: room, RoomJoin: true, RoomAdmin: admin}})
}

// Close shuts down gracefully: new requests stop, participants are told
// and their peers closed.
func (a *App) Close() error {
	a.closeOnce.Do(func() { a.closeErr = a.close() })
	return a.closeErr
}

func (a *App) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if a.Node != nil {
		// Hand the rooms over before anything stops: the participants
		// reconnect to the nodes that take them.
		if err := a.Node.Drain(ctx); err != nil {
			a.log.Warn("cluster: drain incomplete", "err", err)
		}
	}
	a.SFU.Close() // tells participants, closes peers and sockets
	// Sockets not joined yet too; wait for their last messages to be
	// written (the HTTP server does not track upgraded connections).
	var err error
	if a.signaling != nil {
		err = a.signaling.Shutdown(ctx)
	}
	if e := a.http.Shutdown(ctx); e != nil && err == nil {
		err = e
	}
	if a.done != nil {
		if e := <-a.done; e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = e
		}
	}
	if a.Chat != nil {
		// Every participant is detached: wait for their writes to land.
		if e := a.Chat.Close(ctx); e != nil && err == nil {
			err = e
		}
	}
	a.closeWebhooks()
	if a.attachments != nil {
		_ = a.attachments.Close() // the upload sweeper, before its database
	}
	if a.Recorder != nil {
		if e := a.Recorder.Close(); e != nil && err == nil {
			err = e
		}
	}
	a.closeNode()
	return err
}

// ICEServers builds the STUN/TURN list handed to clients.
func ICEServers(stun []string, turn []string, user, credential string) []protocol.ICEServer {
	var out []protocol.ICEServer
	if len(stun) > 0 {
		out = append(out, protocol.ICEServer{URLs: stun, CredentialType: protocol.CredentialPassword})
	}
	if len(turn) > 0 {
		out = append(out, protocol.ICEServer{URLs: turn, Username: user, Credential: credential,
			CredentialType: protocol.CredentialPassword})
	}
	return out
}
