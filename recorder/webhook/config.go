package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Event types.
const (
	MeetingStarted     = "meeting.started"
	MeetingEnded       = "meeting.ended"
	MeetingChatSynced  = "meeting.chatSynced"
	ParticipantJoined  = "participant.joined"
	ParticipantLeft    = "participant.left"
	ChatMessageCreated = "chat.message.created"
)

// EventTypes lists every event type.
var EventTypes = []string{MeetingStarted, MeetingEnded, MeetingChatSynced,
	ParticipantJoined, ParticipantLeft, ChatMessageCreated}

// optIn are the types an endpoint gets only when it lists them.
var optIn = []string{ChatMessageCreated}

// DefaultSchedule is the Standard Webhooks specification's retry schedule:
// the delay before each attempt, the first being immediate.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Endpoint is one receiver of events.
type Endpoint struct {
	// ID names the endpoint in the outbox and the API; stable across
	// restarts (rows waiting for an endpoint keep its id).
	ID string `json:"id"`
	// URL receives POSTs (http or https).
	URL string `json:"url"`
	// Secret is the Standard Webhooks signing secret, "whsec_" + base64.
	Secret string `json:"secret"`
	// Events are the types it wants; empty means every type except the
	// opt-in chat.message.created.
	Events []string `json:"events,omitempty"`
	// PrivateChat: chat.message.created also for private messages, with
	// their recipients. Off by default: private messages never leave the
	// meeting otherwise.
	PrivateChat bool `json:"privateChat,omitempty"`
}

// Wants reports whether the endpoint subscribed to eventType.
func (e *Endpoint) Wants(eventType string) bool {
	if len(e.Events) == 0 {
		return !slices.Contains(optIn, eventType)
	}
	return slices.Contains(e.Events, eventType)
}

// Config configures events and their delivery.
type Config struct {
	Endpoints []Endpoint

	// Schedule is the delay before each attempt; its length is the number
	// of attempts (default DefaultSchedule). The first attempt is always
	// made as soon as the event is committed.
	Schedule []time.Duration
	// Jitter spreads each retry delay by up to ±Jitter of itself (default
	// 0.1; negative: none).
	Jitter float64
	// Timeout bounds one attempt, response included (default 15s).
	Timeout time.Duration
	// Workers is how many deliveries to one endpoint run at once in this
	// process (default 8); each endpoint has its own, so a slow or dead
	// endpoint holds only its own.
	Workers int
	// PollInterval is how often the outbox is polled when nothing woke the
	// workers (default 1s): it picks up retries that came due and rows
	// other servers wrote.
	PollInterval time.Duration
	// Lease is how long a claimed row stays reserved for the claiming
	// worker; a row whose lease ran out (its server died mid-attempt) is
	// claimed again (default Timeout + 30s).
	Lease time.Duration

	// PublicURL is the base of chatDownloadUrl in meeting.chatSynced;
	// empty: SetBaseURL's value.
	PublicURL string
	// APISecret signs chatDownloadUrl (the server's API secret).
	APISecret string
	// ChatURLTTL is how long that URL works (default 24h); a consumer that
	// is later asks GET /v1/sessions/{id}/chat for a fresh one.
	ChatURLTTL time.Duration

	// Client sends the requests (default: a client that follows no
	// redirects).
	Client *http.Client
	Logger *slog.Logger
}

// ErrConfig reports a bad endpoint or setting.
var ErrConfig = errors.New("webhook: bad config")

func (c *Config) defaults() {
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultSchedule
	}
	if c.Jitter == 0 {
		c.Jitter = 0.1
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Lease <= 0 {
		c.Lease = c.Timeout + 30*time.Second
	}
	if c.ChatURLTTL <= 0 {
		c.ChatURLTTL = 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is a failed attempt
		}}
	}
}

// Validate checks the endpoints: unique ids, absolute http(s) URLs,
// decodable secrets, known event types.
func (c *Config) Validate() error {
	seen := map[string]bool{}
	for i, e := range c.Endpoints {
		if e.ID == "" {
			return fmt.Errorf("%w: endpoint %d has no id", ErrConfig, i)
		}
		if seen[e.ID] {
			return fmt.Errorf("%w: endpoint id %q used twice", ErrConfig, e.ID)
		}
		seen[e.ID] = true
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: endpoint %q: url must be an absolute http(s) URL", ErrConfig, e.ID)
		}
		if err := checkSecret(e.Secret); err != nil {
			return fmt.Errorf("%w: endpoint %q: %v", ErrConfig, e.ID, err)
		}
		for _, t := range e.Events {
			if !slices.Contains(EventTypes, t) {
				return fmt.Errorf("%w: endpoint %q: unknown event type %q (known: %s)", ErrConfig, e.ID, t,
					strings.Join(EventTypes, ", "))
			}
		}
	}
	for _, d := range c.Schedule {
		if d < 0 {
			return fmt.Errorf("%w: negative retry delay %v", ErrConfig, d)
		}
	}
	return nil
}

func checkSecret(s string) error {
	if !strings.HasPrefix(s, "whsec_") {
		return errors.New(`secret must look like "whsec_<base64>"`)
	}
	wh, err := standardwebhooks.NewWebhook(s)
	if err != nil || wh == nil {
		return errors.New("secret is not valid base64 after whsec_")
	}
	if k, _ := decodeSecret(s); len(k) < 16 {
		return errors.New("secret is too short (at least 16 bytes, 24 to 64 recommended)")
	}
	return nil
}

// LoadFile reads endpoints from a JSON file: a list of
// {"id","url","secret","events","privateChat"}.
func LoadFile(path string) ([]Endpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("webhook config: %w", err)
	}
	var eps []Endpoint
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eps); err != nil {
		return nil, fmt.Errorf("webhook config %s: %w", path, err)
	}
	return eps, nil
}

// Flags are the serve command's webhook options.
type Flags struct {
	URL, Secret string
	Events      string // comma-separated; empty: the default set
	PrivateChat bool
	File        string // JSON endpoint list
	Timeout     time.Duration
	Schedule    string // comma-separated durations, e.g. "0s,5s,5m"
}

// FromFlags builds a Config from the serve flags: the command-line
// endpoint (id "default") and those of the file.
func FromFlags(f Flags) (Config, error) {
	var c Config
	if f.URL != "" || f.Secret != "" {
		if f.URL == "" || f.Secret == "" {
			return c, fmt.Errorf("%w: --webhook-url and --webhook-secret go together", ErrConfig)
		}
		e := Endpoint{ID: "default", URL: f.URL, Secret: f.Secret, PrivateChat: f.PrivateChat}
		for _, t := range strings.Split(f.Events, ",") {
			if t = strings.TrimSpace(t); t != "" {
				e.Events = append(e.Events, t)
			}
		}
		c.Endpoints = append(c.Endpoints, e)
	} else if f.Events != "" || f.PrivateChat {
		return c, fmt.Errorf("%w: --webhook-events and --webhook-private-chat need --webhook-url", ErrConfig)
	}
	if f.File != "" {
		eps, err := LoadFile(f.File)
		if err != nil {
			return c, err
		}
		c.Endpoints = append(c.Endpoints, eps...)
	}
	if f.Schedule != "" {
		s, err := ParseSchedule(f.Schedule)
		if err != nil {
			return c, err
		}
		c.Schedule = s
	}
	c.Timeout = f.Timeout
	return c, c.Validate()
}

// ParseSchedule parses "0s,5s,5m,…".
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%w: retry schedule %q: bad delay %q", ErrConfig, s, p)
		}
		out = append(out, d)
	}
	return out, nil
}
