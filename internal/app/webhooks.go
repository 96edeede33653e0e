package app

// Webhook wiring: the Delivery is the recorder's Outbox (so events are
// written in the same transaction as their state), its workers
// start on the recorder's database once the listener is bound (the
// server's address is the default base of chat download links), its admin
// API joins the mux, and it stops before the recorder closes.

import (
	"net"
	"net/http"
	"strings"

	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

// prepareWebhooks builds the Delivery and hooks it into rc.
func (a *App) prepareWebhooks(rc *recorder.Config) error {
	wc := a.cfg.Webhooks
	wc.APISecret = a.cfg.APISecret
	if wc.PublicURL == "" {
		wc.PublicURL = a.cfg.PublicURL
	}
	if wc.Logger == nil {
		wc.Logger = a.log
	}
	d, err := webhook.New(wc)
	if err != nil {
		return err
	}
	a.Webhooks = d
	if len(wc.Endpoints) > 0 {
		rc.Outbox = d
	}
	return nil
}

// startWebhooks starts delivery and registers the API.
func (a *App) startWebhooks(mux *http.ServeMux) error {
	if a.Webhooks == nil || a.Recorder == nil {
		return nil
	}
	d := a.Webhooks
	d.SetBaseURL(localURL(a.ln.Addr()))
	if a.Node != nil {
		// A dead node's attempts in flight are taken back once its
		// heartbeat is stale, not after the delivery lease.
		d.SetNode(a.Node.ID(), a.Node.TTL())
	}
	if n := len(d.Endpoints()); n > 0 {
		if a.cfg.PublicURL == "" && a.cfg.Webhooks.PublicURL == "" {
			a.log.Warn("webhooks: no --public-url; meeting.chatSynced links point at this listener's address")
		}
		a.log.Info("webhooks: delivering", "endpoints", n)
	}
	if err := d.Start(a.Recorder.DB()); err != nil {
		return err
	}
	d.Register(mux, a.Keys)
	return nil
}

func (a *App) closeWebhooks() {
	if a.Webhooks != nil {
		a.Webhooks.Close()
	}
}

// localURL is http://host:port of a listener, with localhost for an
// unspecified address.
func localURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + port
}
