package recorder

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/internal/logsummary"
)

// Isolating a change the database refuses for good. Bisecting a batch by
// committing its halves costs a commit (an fsync) per halving, which every
// other room's changes queue behind. Instead the halves are first tried in
// transactions that are always rolled back (no commit, no fsync) until the
// refused changes are found, and the rest is then committed once. Only if
// that commit still fails (changes of one batch that conflict only with
// each other) does the writer fall back to committing halves.

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("recorder: dry run")

// fits applies items in a transaction that is then rolled back; it
// returns nil if they would be written.
func (w *writer) fits(items []item) error {
	p, err := w.plan(items)
	if err != nil {
		return err
	}
	p.replay = true // ON CONFLICT statements, never COPY
	err = w.r.db.WithContext(w.ctx).Transaction(func(tx *gorm.DB) error {
		if err := w.applyTx(tx, nil, p); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}

// isolate finds the changes of a failed batch that the database refuses
// on their own, recording them in bad by index. It gives up (false) on a
// transient error or a closing writer: the caller falls back to retrying.
func (w *writer) isolate(items []item, offset int, bad map[int]error) bool {
	if len(items) == 0 {
		return true
	}
	err := w.fits(items)
	switch {
	case err == nil:
		return true
	case isTransient(err) || w.ctx.Err() != nil:
		return false
	case len(items) == 1:
		bad[offset] = err
		return true
	}
	mid := len(items) / 2
	return w.isolate(items[:mid], offset, bad) && w.isolate(items[mid:], offset+mid, bad)
}

// salvage writes a batch that failed with a non-transient error: the
// refused changes fail alone, the rest is committed once. It reports false
// when it could not settle the batch that way.
func (w *writer) salvage(items []item) bool {
	bad := map[int]error{}
	mid := len(items) / 2
	if !w.isolate(items[:mid], 0, bad) || !w.isolate(items[mid:], mid, bad) || len(bad) == 0 {
		return false
	}
	good := make([]item, 0, len(items)-len(bad))
	for i, it := range items {
		if bad[i] == nil {
			good = append(good, it)
		}
	}
	if len(good) > 0 && w.commit(good, true) != nil {
		return false
	}
	w.recovered()
	w.stats.update(func(s *WriterStats) {
		s.Changes += int64(len(good))
		s.Failed += int64(len(bad))
	})
	for i, it := range items {
		if err := bad[i]; err != nil {
			w.reject(it, err)
		} else {
			it.finish(nil)
		}
	}
	return true
}

// reject fails one change the database refuses for good: retrying it can
// never succeed. The log is a summary, not a line per change.
func (w *writer) reject(it item, err error) {
	err = fmt.Errorf("%w: %w", chat.ErrRejected, err)
	if ok, n := w.rejects.Hit(time.Now()); ok {
		if n == 1 {
			w.r.log.Error("recorder: change refused by the database, not recorded", "room", it.c.Room, "kind", it.c.Kind, "err", err)
		} else {
			w.r.log.Error("recorder: more changes refused by the database", "refused", n, "per", logsummary.Every, "err", err)
		}
	}
	it.finish(err)
}

// unstorable reports why c holds a value the schema cannot: invalid UTF-8
// or NUL (PostgreSQL's text and varchar refuse both: SQLSTATE 22021) or a
// string longer than its column (varchar(n) counts characters: 22001).
// Such a change is refused in Write, before it costs the database, or any
// other room, anything. Chat validates the same before fan-out; this is
// the recorder's own guarantee.
func unstorable(c *chat.Change) error {
	var bad string
	check := func(field, v string, max int) {
		if bad != "" || v == "" {
			return
		}
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			bad = field + " is not valid UTF-8 without NUL"
		} else if max > 0 && len(v) > max && utf8.RuneCountInString(v) > max {
			bad = fmt.Sprintf("%s is longer than %d characters", field, max)
		}
	}
	check("room", c.Room, 255)
	check("identity", c.Identity, 255)
	check("name", c.Name, 255)
	check("text", c.Text, 0)
	check("emoji", c.Emoji, 64)
	check("message id", c.MessageID, 64)
	check("by", c.By, 255)
	if m := c.Message; m != nil {
		check("message id", m.ID, 64)
		check("sender", m.Sender, 255)
		check("sender name", m.SenderName, 255)
		check("kind", string(m.Kind), 16)
		check("text", m.Text, 0)
		check("replyTo", m.ReplyTo, 64)
		check("clientId", m.ClientID, 128)
		for _, to := range m.To {
			check("recipient", to, 255)
		}
		if a := m.Attachment; a != nil {
			check("attachment id", a.ID, 64)
		}
	}
	if bad == "" {
		return nil
	}
	return errors.New("recorder: " + bad)
}
