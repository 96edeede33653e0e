package attachments

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// maxUploaders bounds the rate limiter's map: past it, buckets that have
// refilled are dropped (a full bucket is the same as a new one), and if
// none has, a new uploader waits.
const maxUploaders = 10000

type uploader struct{ room, identity string }

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// uploadRates keeps one token bucket per (room, identity).
type uploadRates struct {
	limit rate.Limit
	burst int
	full  time.Duration // how long an idle bucket takes to refill

	mu sync.Mutex
	m  map[uploader]*bucket
}

func newUploadRates(perMinute float64, burst int) *uploadRates {
	if perMinute <= 0 {
		return nil
	}
	l := rate.Limit(perMinute / 60)
	return &uploadRates{limit: l, burst: burst, m: make(map[uploader]*bucket),
		full: time.Duration(float64(burst) / float64(l) * float64(time.Second))}
}

// allow takes a token for (room, identity) at now, or says how long to
// wait for one.
func (u *uploadRates) allow(room, identity string, now time.Time) (time.Duration, bool) {
	if u == nil {
		return 0, true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	k := uploader{room, identity}
	b := u.m[k]
	if b == nil {
		if len(u.m) >= maxUploaders {
			u.evict(now)
			if len(u.m) >= maxUploaders {
				return u.full, false
			}
		}
		b = &bucket{lim: rate.NewLimiter(u.limit, u.burst)}
		u.m[k] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// evict drops the buckets idle long enough to be full again.
func (u *uploadRates) evict(now time.Time) {
	for k, b := range u.m {
		if now.Sub(b.last) >= u.full {
			delete(u.m, k)
		}
	}
}

// checkQuota refuses row if the room's stored bytes plus row.Size would
// pass the room quota. The caller holds a.commit, so no concurrent upload
// in this process can slip in between the check and the insert.
func (a *api) checkQuota(req *http.Request, row *recorder.AttachmentRow) (int, string) {
	if a.cfg.RoomQuota <= 0 {
		return 0, ""
	}
	var used int64
	err := a.db.WithContext(req.Context()).Model(&recorder.AttachmentRow{}).
		Where("room = ?", row.Room).Select("COALESCE(SUM(size), 0)").Scan(&used).Error
	if err != nil {
		a.log.Error("recorder attachments: room usage", "err", err)
		return http.StatusInternalServerError, "internal error"
	}
	if used+row.Size > a.cfg.RoomQuota {
		return http.StatusRequestEntityTooLarge, "the room's attachment quota is used up"
	}
	return 0, ""
}
