package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/internal/procs"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// list splits a comma-separated flag value.
func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", envOr("BACKCHANNEL_ADDR", ":7880"), "HTTP listener: signaling, web client, API, /healthz, /metrics")
	data := fs.String("data", envOr("BACKCHANNEL_DATA", "./data"), "folder for the SQLite database and attachments")
	database := fs.String("database", envOr("BACKCHANNEL_DATABASE", ""), "postgres://… to use PostgreSQL (default: SQLite under --data)")
	publicURL := fs.String("public-url", envOr("BACKCHANNEL_PUBLIC_URL", ""), "base URL of download links (default: the request's host)")
	dev := fs.Bool("dev", false, "development mode: API key devkey, secret secret, any origin")
	key := fs.String("api-key", envOr("BACKCHANNEL_API_KEY", ""), "API key (env BACKCHANNEL_API_KEY)")
	secret := fs.String("api-secret", envOr("BACKCHANNEL_API_SECRET", ""), "API secret (env BACKCHANNEL_API_SECRET)")
	udpPort := fs.Int("rtc-udp-port", envInt("BACKCHANNEL_RTC_UDP_PORT", 7882), "the one UDP port all peers share (ICE UDP mux)")
	tcpPort := fs.Int("rtc-tcp-port", envInt("BACKCHANNEL_RTC_TCP_PORT", 7881), "ICE-TCP fallback port (0: off)")
	bindIP := fs.String("rtc-bind", envOr("BACKCHANNEL_RTC_BIND", ""), "IP address the RTC ports bind to (default all)")
	natIPs := fs.String("nat-1to1-ip", envOr("BACKCHANNEL_NAT_1TO1_IP", ""), "public IPs to announce for a server behind 1:1 NAT (comma-separated)")
	stun := fs.String("stun", envOr("BACKCHANNEL_STUN", ""), "STUN URLs handed to clients (comma-separated)")
	turn := fs.String("turn", envOr("BACKCHANNEL_TURN", ""), "TURN URLs handed to clients (comma-separated)")
	turnUser := fs.String("turn-username", envOr("BACKCHANNEL_TURN_USERNAME", ""), "TURN username")
	turnCred := fs.String("turn-credential", envOr("BACKCHANNEL_TURN_CREDENTIAL", ""), "TURN credential")
	origins := fs.String("allowed-origins", envOr("BACKCHANNEL_ALLOWED_ORIGINS", ""), "Origins browsers may connect from (comma-separated, * for any; default same host)")
	chatRate := fs.Float64("chat-rate", envFloat("BACKCHANNEL_CHAT_RATE", 10), "chat packets per second per connection (0: no limit)")
	chatBurst := fs.Int("chat-burst", envInt("BACKCHANNEL_CHAT_BURST", 20), "chat burst per connection")
	roomRate := fs.Float64("chat-room-rate", envFloat("BACKCHANNEL_CHAT_ROOM_RATE", 200), "chat packets per second per room (0: no limit; off by default when --chat-rate is 0)")
	adaptiveProcs := fs.Bool("adaptive-procs", os.Getenv("BACKCHANNEL_ADAPTIVE_PROCS") != "false",
		"keep GOMAXPROCS as low as the load allows, up to Go's default (off: Go's default throughout; a GOMAXPROCS in the environment turns it off)")
	logLevel := fs.String("log-level", envOr("BACKCHANNEL_LOG_LEVEL", "info"), "debug, info, warn or error")
	var wh webhook.Flags
	fs.StringVar(&wh.URL, "webhook-url", envOr("BACKCHANNEL_WEBHOOK_URL", ""), "webhook endpoint URL (id \"default\"; with --webhook-secret)")
	fs.StringVar(&wh.Secret, "webhook-secret", envOr("BACKCHANNEL_WEBHOOK_SECRET", ""), "its Standard Webhooks secret, whsec_<base64>")
	fs.StringVar(&wh.Events, "webhook-events", envOr("BACKCHANNEL_WEBHOOK_EVENTS", ""), "event types it wants, comma-separated (default all but chat.message.created)")
	fs.BoolVar(&wh.PrivateChat, "webhook-private-chat", os.Getenv("BACKCHANNEL_WEBHOOK_PRIVATE_CHAT") == "true", "send it private chat messages too (with chat.message.created)")
	fs.StringVar(&wh.File, "webhook-config", envOr("BACKCHANNEL_WEBHOOK_CONFIG", ""), "JSON file listing endpoints: [{id,url,secret,events,privateChat}]")
	fs.DurationVar(&wh.Timeout, "webhook-timeout", 15*time.Second, "timeout of one delivery attempt")
	fs.StringVar(&wh.Schedule, "webhook-retry-schedule", envOr("BACKCHANNEL_WEBHOOK_RETRY_SCHEDULE", ""), "delay before each attempt, comma-separated (default 0s,5s,5m,30m,2h,5h,10h,10h)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	allowed := list(*origins)
	if *dev {
		if *key == "" {
			*key = "devkey"
		}
		if *secret == "" {
			*secret = "secret"
		}
		if len(allowed) == 0 {
			allowed = []string{"*"}
		}
		log.Warn("development mode: API key and secret are public, any origin may connect; never use --dev in production",
			"api_key", *key, "api_secret", *secret)
	}
	if *key == "" || *secret == "" {
		return errors.New("serve: set --api-key and --api-secret (or BACKCHANNEL_API_KEY/SECRET), or use --dev")
	}
	if err := os.MkdirAll(*data, 0o750); err != nil {
		return fmt.Errorf("--data: %w", err)
	}

	rtc := sfu.Config{
		UDPAddr:    fmt.Sprintf("%s:%d", *bindIP, *udpPort),
		NAT1To1IPs: list(*natIPs),
		ICEServers: app.ICEServers(list(*stun), list(*turn), *turnUser, *turnCred),
	}
	if *tcpPort > 0 {
		rtc.TCPAddr = fmt.Sprintf("%s:%d", *bindIP, *tcpPort)
	}
	whCfg, err := webhook.FromFlags(wh)
	if err != nil {
		return err
	}
	chatCfg := chat.DefaultConfig()
	chatCfg.Rate, chatCfg.Burst = *chatRate, *chatBurst
	chatCfg.RoomRate, chatCfg.RoomBurst = *roomRate, int(2**roomRate)
	roomRateSet := false
	fs.Visit(func(f *flag.Flag) { roomRateSet = roomRateSet || f.Name == "chat-room-rate" })
	if *chatRate == 0 && !roomRateSet && os.Getenv("BACKCHANNEL_CHAT_ROOM_RATE") == "" {
		// Benchmarks turn limits off with --chat-rate 0: all of them.
		chatCfg.RoomRate = 0
	}
	a, err := app.New(app.Config{
		Addr: *addr, DataDir: *data, Database: *database, PublicURL: *publicURL, APIKey: *key, APISecret: *secret, Dev: *dev,
		RTC: rtc, AllowedOrigins: allowed, ChatConfig: &chatCfg, Logger: log, Webhooks: whCfg,
	})
	if err != nil {
		return err
	}
	a.Serve()
	procsCtx, stopProcs := context.WithCancel(context.Background())
	defer stopProcs()
	maxProcs := runtime.GOMAXPROCS(0)
	if *adaptiveProcs && procs.Start(procsCtx, procs.Config{Max: maxProcs, Logger: log}) {
		log.Info("GOMAXPROCS follows the load", "from", 1, "up_to", maxProcs)
	}
	db := "PostgreSQL"
	if *database == "" {
		db = "SQLite, " + recorder.SQLiteEngine()
	}
	log.Info("backchannel serving", "http", a.Addr().String(), "rtc_udp", rtc.UDPAddr, "rtc_tcp", rtc.TCPAddr, "data", *data,
		"database", db)
	if *dev {
		log.Info("open the browser client", "url", fmt.Sprintf("http://localhost:%d", portOf(a.Addr().String())))
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	s := <-sigs
	log.Info("shutting down", "signal", s.String())
	signal.Stop(sigs)
	return a.Close()
}

func portOf(hostport string) int {
	i := strings.LastIndex(hostport, ":")
	p, _ := strconv.Atoi(hostport[i+1:])
	return p
}
