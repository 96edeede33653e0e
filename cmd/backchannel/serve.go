package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/internal/logs"
	"github.com/backchannel-rtc/backchannel/internal/procs"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
	"github.com/backchannel-rtc/backchannel/sfu"
)

func serveCommand() *cli.Command {
	str := func(name, def, usage string) *cli.StringFlag {
		return &cli.StringFlag{Name: name, Value: def, Usage: usage, Sources: env(name)}
	}
	return &cli.Command{
		Name:  "serve",
		Usage: "run the server: SFU, chat, recorder, API and browser client on one port",
		Flags: []cli.Flag{
			str("addr", ":7880", "HTTP listener: signaling, web client, API, /healthz, /metrics"),
			str("data", "./data", "folder for the SQLite database and attachments"),
			str("database", "", "postgres://… to use PostgreSQL (default: SQLite under --data)"),
			str("public-url", "", "base URL of download links (default: the request's host)"),
			&cli.BoolFlag{Name: "dev", Sources: env("dev"),
				Usage: "development mode: API key devkey, secret secret, any origin (never in production)"},
			str("api-key", "", "API key: the tokens' issuer"),
			str("api-secret", "", "API secret: signs the tokens"),
			&cli.IntFlag{Name: "rtc-udp-port", Value: 7882, Config: decimal, Validator: validPort, Sources: env("rtc-udp-port"),
				Usage: "the one UDP port all peers share (ICE UDP mux)"},
			&cli.IntFlag{Name: "rtc-tcp-port", Value: 7881, Config: decimal, Validator: validPort, Sources: env("rtc-tcp-port"),
				Usage: "ICE-TCP fallback port (0: off)"},
			str("rtc-bind", "", "IP address the RTC ports bind to (default all)"),
			str("nat-1to1-ip", "", "public IPs to announce for a server behind 1:1 NAT (comma-separated)"),
			str("stun", "", "STUN URLs handed to clients (comma-separated)"),
			str("turn", "", "TURN URLs handed to clients (comma-separated)"),
			str("turn-username", "", "TURN username"),
			str("turn-credential", "", "TURN credential"),
			str("allowed-origins", "", "Origins browsers may connect from (comma-separated, * for any; default same host)"),
			&cli.FloatFlag{Name: "chat-rate", Value: 10, Validator: nonNegative[float64], Sources: env("chat-rate"),
				Usage: "chat packets per second per connection (0: no limit)"},
			&cli.IntFlag{Name: "chat-burst", Value: 20, Config: decimal, Validator: nonNegative[int], Sources: env("chat-burst"),
				Usage: "chat burst per connection"},
			&cli.FloatFlag{Name: "chat-room-rate", Value: 200, Validator: nonNegative[float64], Sources: env("chat-room-rate"),
				Usage: "chat packets per second per room (0: no limit; off by default when --chat-rate is 0)"},
			&cli.FloatFlag{Name: "upload-rate", Value: 10, Validator: nonNegative[float64], Sources: env("upload-rate"),
				Usage: "attachment uploads per minute per participant, after --upload-burst (0: no limit)"},
			&cli.IntFlag{Name: "upload-burst", Value: 5, Config: decimal, Validator: nonNegative[int], Sources: env("upload-burst"),
				Usage: "attachment uploads a participant may make at once"},
			&cli.Int64Flag{Name: "upload-room-quota", Value: 1 << 30, Config: decimal, Validator: nonNegative[int64], Sources: env("upload-room-quota"),
				Usage: "bytes of stored attachments per room (0: no limit)"},
			&cli.DurationFlag{Name: "upload-grace", Value: 24 * time.Hour, Validator: nonNegative[time.Duration], Sources: env("upload-grace"),
				Usage: "how long an upload that no message references is kept before it is removed (0: kept forever)"},
			&cli.DurationFlag{Name: "departure-timeout", Value: chat.DefaultConfig().DepartureTimeout, Validator: nonNegative[time.Duration],
				Sources: env("departure-timeout"),
				Usage:   "how long a room must stay empty before its meeting session ends (meeting.ended); a join within it continues the session (0: end at once)"},
			str("require-e2ee", "", `rooms whose private messages must be end-to-end encrypted: comma-separated patterns ("*": every room; "legal-*")`),
			&cli.BoolFlag{Name: "adaptive-procs", Value: true, Sources: env("adaptive-procs"),
				Usage: "keep GOMAXPROCS as low as the load allows, up to Go's default (off: Go's default throughout; a GOMAXPROCS in the environment turns it off)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Validator: oneOf("debug", "info", "warn", "error"), Sources: env("log-level"),
				Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", Validator: oneOf(logs.Formats...), Sources: env("log-format"),
				Usage: "text (logfmt) or json (one object per line)"},
			str("webhook-url", "", `webhook endpoint URL (id "default"; with --webhook-secret)`),
			str("webhook-secret", "", "its Standard Webhooks secret, whsec_<base64>"),
			str("webhook-events", "", "event types it wants, comma-separated (default all but chat.message.created)"),
			&cli.BoolFlag{Name: "webhook-private-chat", Sources: env("webhook-private-chat"),
				Usage: "send it private chat messages too (with chat.message.created)"},
			&cli.StringFlag{Name: "webhook-config", Sources: env("webhook-config"), TakesFile: true,
				Usage: "JSON file listing endpoints: [{id,url,secret,events,privateChat}]"},
			&cli.DurationFlag{Name: "webhook-timeout", Value: 15 * time.Second, Validator: positive[time.Duration], Sources: env("webhook-timeout"),
				Usage: "timeout of one delivery attempt"},
			str("webhook-retry-schedule", "", "delay before each attempt, comma-separated (default 0s,5s,5m,30m,2h,5h,10h,10h)"),
			str("node-url", "", "this node's public signaling URL (ws://, wss://, http:// or https://): run as a cluster node on the --database PostgreSQL shared by every node (default: a single node)"),
			&cli.DurationFlag{Name: "lease-ttl", Value: 10 * time.Second, Validator: positive[time.Duration], Sources: env("lease-ttl"),
				Usage: "cluster: how long a room's lease and a node's heartbeat last without renewal (a dead node's rooms move after it)"},
			&cli.DurationFlag{Name: "lease-renew", Value: 2 * time.Second, Validator: positive[time.Duration], Sources: env("lease-renew"),
				Usage: "cluster: how often leases and the heartbeat are renewed (at most half of --lease-ttl)"},
			&cli.DurationFlag{Name: "http-idle-timeout", Value: app.DefaultHTTPLimits.IdleTimeout, Validator: positive[time.Duration],
				Sources: env("http-idle-timeout"), Usage: "close an HTTP keep-alive connection idle for so long (signaling sockets excepted)"},
			&cli.IntFlag{Name: "http-max-conns-per-ip", Value: app.DefaultHTTPLimits.MaxConnsPerIP, Config: decimal,
				Validator: nonNegative[int], Sources: env("http-max-conns-per-ip"),
				Usage: "HTTP connections one address may hold before any becomes a signaling socket (0: no cap; behind a proxy, raise it)"},
		},
		Action: action(runServe),
	}
}

func runServe(_ context.Context, cmd *cli.Command) error {
	level, err := logs.ParseLevel(cmd.String("log-level"))
	if err != nil {
		return usagef("serve: --log-level: %v", err)
	}
	log, err := logs.New(cmd.Root().ErrWriter, cmd.String("log-format"), level)
	if err != nil {
		return usagef("serve: --log-format: %v", err)
	}
	slog.SetDefault(log)

	key, secret, dev := cmd.String("api-key"), cmd.String("api-secret"), cmd.Bool("dev")
	allowed := list(cmd.String("allowed-origins"))
	if dev {
		if key == "" {
			key = "devkey"
		}
		if secret == "" {
			secret = "secret"
		}
		if len(allowed) == 0 {
			allowed = []string{"*"}
		}
	}
	if key == "" || secret == "" {
		return usagef("serve: set --api-key and --api-secret (or BACKCHANNEL_API_KEY and BACKCHANNEL_API_SECRET), or use --dev")
	}
	whCfg, err := webhook.FromFlags(webhook.Flags{
		URL: cmd.String("webhook-url"), Secret: cmd.String("webhook-secret"), Events: cmd.String("webhook-events"),
		PrivateChat: cmd.Bool("webhook-private-chat"), File: cmd.String("webhook-config"),
		Timeout: cmd.Duration("webhook-timeout"), Schedule: cmd.String("webhook-retry-schedule"),
	})
	if err != nil {
		return usagef("serve: %v", err)
	}
	bindIP := cmd.String("rtc-bind")
	rtc := sfu.Config{
		UDPAddr:    fmt.Sprintf("%s:%d", bindIP, cmd.Int("rtc-udp-port")),
		NAT1To1IPs: list(cmd.String("nat-1to1-ip")),
		ICEServers: app.ICEServers(list(cmd.String("stun")), list(cmd.String("turn")),
			cmd.String("turn-username"), cmd.String("turn-credential")),
	}
	if p := cmd.Int("rtc-tcp-port"); p > 0 {
		rtc.TCPAddr = fmt.Sprintf("%s:%d", bindIP, p)
	}
	chatCfg := chat.DefaultConfig()
	chatCfg.Rate, chatCfg.Burst = cmd.Float("chat-rate"), cmd.Int("chat-burst")
	chatCfg.RoomRate = cmd.Float("chat-room-rate")
	chatCfg.RoomBurst = int(2 * chatCfg.RoomRate)
	chatCfg.DepartureTimeout = cmd.Duration("departure-timeout")
	for _, pat := range strings.Split(cmd.String("require-e2ee"), ",") {
		if pat = strings.TrimSpace(pat); pat != "" {
			if _, err := path.Match(pat, ""); err != nil {
				return fmt.Errorf("--require-e2ee: bad pattern %q", pat)
			}
			chatCfg.RequireE2EE = append(chatCfg.RequireE2EE, pat)
		}
	}
	if chatCfg.DepartureTimeout == 0 {
		chatCfg.DepartureTimeout = -1 // chat.Config: negative is "at once", 0 the default
	}
	if chatCfg.Rate == 0 && !cmd.IsSet("chat-room-rate") {
		// Benchmarks turn limits off with --chat-rate 0: all of them.
		chatCfg.RoomRate = 0
	}

	if dev {
		log.Warn("development mode: the API key and secret are public, any origin may connect; never use --dev in production",
			"api_key", key)
	}
	data, database := cmd.String("data"), cmd.String("database")
	nodeURL := cmd.String("node-url")
	if nodeURL != "" && !recorder.IsPostgres(database) {
		return usagef("serve: %v", app.ErrSQLiteCluster)
	}
	if nodeURL != "" && cmd.Duration("lease-renew")*2 > cmd.Duration("lease-ttl") {
		return usagef("serve: --lease-renew (%s) must be at most half of --lease-ttl (%s)", cmd.Duration("lease-renew"), cmd.Duration("lease-ttl"))
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// The data folder is created when the server starts; if it cannot
	// start, a folder it created is removed again (nothing of the
	// operator's can be in it).
	created := firstMissing(data)
	b := buildInfo()
	a, err := startApp(log, sigs, app.Config{
		Addr: cmd.String("addr"), DataDir: data, Database: database, PublicURL: cmd.String("public-url"),
		APIKey: key, APISecret: secret, Dev: dev,
		RTC: rtc, AllowedOrigins: allowed, ChatConfig: &chatCfg, Logger: log, Webhooks: whCfg,
		HTTP: httpLimits(cmd), Uploads: app.UploadLimits{Rate: cmd.Float64("upload-rate"), Burst: int(cmd.Int("upload-burst")),
			RoomQuota: cmd.Int64("upload-room-quota"), Grace: cmd.Duration("upload-grace")},
		Build:   app.Build{Version: b.Version, Commit: b.Commit},
		Cluster: app.ClusterConfig{NodeURL: nodeURL, LeaseTTL: cmd.Duration("lease-ttl"), LeaseRenew: cmd.Duration("lease-renew")},
	})
	if err != nil {
		if created != "" {
			_ = os.RemoveAll(created)
		}
		return err
	}
	a.Serve()
	procsCtx, stopProcs := context.WithCancel(context.Background())
	defer stopProcs()
	maxProcs := runtime.GOMAXPROCS(0)
	if cmd.Bool("adaptive-procs") && procs.Start(procsCtx, procs.Config{Max: maxProcs, Logger: log}) {
		log.Info("GOMAXPROCS follows the load", "from", 1, "up_to", maxProcs)
	}
	db := "PostgreSQL"
	if database == "" {
		db = "SQLite, " + recorder.SQLiteEngine()
	}
	log.Info("backchannel serving", "http", a.Addr().String(), "rtc_udp", rtc.UDPAddr, "rtc_tcp", rtc.TCPAddr, "data", data,
		"database", db, "version", b.Version, "commit", b.Commit, "node_url", nodeURL)
	if dev {
		log.Info("open the browser client", "url", fmt.Sprintf("http://localhost:%d", portOf(a.Addr().String())))
	}

	s := <-sigs
	if nodeURL != "" {
		log.Info("shutting down: handing the rooms to the other nodes", "signal", s.String())
	} else {
		log.Info("shutting down", "signal", s.String())
	}
	return a.Close()
}

// firstMissing is the outermost folder of path that does not exist yet
// (what MkdirAll(path) would create first), or "" if path exists.
func firstMissing(path string) string {
	missing := ""
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			return missing
		}
		missing = p
		if parent := filepath.Dir(p); parent == p {
			return missing
		}
	}
}

func portOf(hostport string) int {
	i := strings.LastIndex(hostport, ":")
	p, _ := strconv.Atoi(hostport[i+1:])
	return p
}

// httpLimits reads the HTTP connection limits; 0 turns the per-address cap
// off.
func httpLimits(cmd *cli.Command) app.HTTPLimits {
	l := app.HTTPLimits{IdleTimeout: cmd.Duration("http-idle-timeout"), MaxConnsPerIP: cmd.Int("http-max-conns-per-ip")}
	if l.MaxConnsPerIP == 0 {
		l.MaxConnsPerIP = -1
	}
	return l
}
