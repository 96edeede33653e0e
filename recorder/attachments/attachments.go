package attachments

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"image"
	_ "image/gif" // decoders for DecodeConfig
	_ "image/jpeg"
	_ "image/png"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/envelope"
	"github.com/backchannel-rtc/backchannel/recorder/links"
)

// Config tunes the attachment endpoints.
type Config struct {
	// PublicURL is the base of the download URLs handed out; "" uses the
	// request's scheme and Host.
	PublicURL string
	// URLTTL is how long a download URL from /v1/attachments/{id}/url
	// works (default 1h).
	URLTTL time.Duration
	// MaxUploadBytes caps an attachment (default 25 MiB).
	MaxUploadBytes int64
	// UploadRate is how many uploads a participant (room, identity) may
	// make per minute, after UploadBurst; 0 is no limit.
	UploadRate float64
	// UploadBurst is how many uploads a participant may make at once
	// (default 1 when UploadRate is set).
	UploadBurst int
	// RoomQuota caps the bytes of a room's stored attachments; 0 is no
	// limit.
	RoomQuota int64
	// Grace is how long an upload no message references is kept (the
	// sweeper, sweep.go); 0 keeps it forever.
	Grace time.Duration
	// SweepEvery is how often the sweeper runs (default Grace/10, within
	// 1 minute and 1 hour).
	SweepEvery time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

type api struct {
	db    *gorm.DB
	dir   string
	keys  auth.KeyProvider
	cfg   Config
	sig   links.Signer
	log   *slog.Logger
	rates *uploadRates
	// commit serializes the quota check, the blob's rename and the row's
	// insert, so concurrent uploads cannot overshoot a room's quota, and
	// the sweeper (sweep.go) never removes a file an upload is reusing;
	// lockUploads takes it (with, on PostgreSQL, a lock across nodes).
	commit sync.Mutex
	// beforeInsert, if set (tests), runs under commit between the file
	// and the row.
	beforeInsert func()
}

// Dir is where the attachments of a data directory are stored.
func Dir(dataDir string) string { return filepath.Join(dataDir, "attachments") }

// Register adds the attachment endpoints to mux: upload
// (POST /v1/rooms/{room}/attachments), a viewer's download URL
// (GET /v1/attachments/{id}/url) and the signed download itself
// (GET /v1/attachments/{id}). With a Grace it starts the sweeper, which
// the returned Service's Close stops.
func Register(mux *http.ServeMux, r *recorder.Recorder, keys auth.KeyProvider, cfg Config) *Service {
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = time.Hour
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 25 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.UploadBurst < 1 {
		cfg.UploadBurst = 1
	}
	a := &api{db: r.DB(), dir: Dir(r.DataDir()), keys: keys, cfg: cfg, sig: links.NewSigner(keys.APISecret), log: r.Logger(),
		rates: newUploadRates(cfg.UploadRate, cfg.UploadBurst)}
	mux.HandleFunc("POST /v1/rooms/{room}/attachments", a.upload)
	mux.HandleFunc("GET /v1/attachments/{id}/url", a.attachmentURL)
	mux.HandleFunc("GET /v1/attachments/{id}", a.download)
	s := &Service{a: a}
	s.start()
	return s
}

func (a *api) fail(w http.ResponseWriter, req *http.Request, err error) {
	a.log.Error("recorder attachments", "path", req.URL.Path, "err", err)
	envelope.Error(w, http.StatusInternalServerError, "internal error")
}

// uploadJSON is the upload answer.
type uploadJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	Image       bool   `json:"image"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
}

func (a *api) blobPath(hash string) string {
	return filepath.Join(a.dir, hash[:2], hash)
}

// cleanName keeps a file name displayable and header-safe.
func cleanName(s string) string {
	s = filepath.Base(strings.ReplaceAll(s, `\`, "/"))
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for len(s) > 200 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	if s == "" || s == "." || s == "/" {
		s = "file"
	}
	return s
}

// storageError maps a filesystem failure to a status and message.
func storageError(err error) (int, string) {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return http.StatusInsufficientStorage, "attachment storage is full"
	}
	return http.StatusInternalServerError, "attachment storage is not writable"
}

func (a *api) upload(w http.ResponseWriter, req *http.Request) {
	room := req.PathValue("room")
	who, err := a.keys.Verify(auth.FromRequest(req))
	if err != nil {
		envelope.Error(w, http.StatusUnauthorized, err.Error())
		return
	}
	if who.Grant.Room != room || !who.Grant.PublishData() {
		envelope.Error(w, http.StatusForbidden, "token does not allow posting to this room")
		return
	}
	if wait, ok := a.rates.allow(room, who.Identity, a.cfg.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		envelope.Error(w, http.StatusTooManyRequests, "too many uploads: wait before uploading again")
		return
	}
	limit := a.cfg.MaxUploadBytes
	if req.ContentLength > limit {
		envelope.Error(w, http.StatusRequestEntityTooLarge, "attachment larger than the limit")
		return
	}
	req.Body = http.MaxBytesReader(w, req.Body, limit)
	body, name := io.Reader(req.Body), req.URL.Query().Get("name")
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt == "multipart/form-data" {
		mr, err := req.MultipartReader()
		if err != nil {
			envelope.Error(w, http.StatusBadRequest, "bad multipart body")
			return
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				code, msg := http.StatusBadRequest, "multipart body has no file part"
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					code, msg = http.StatusRequestEntityTooLarge, "attachment larger than the limit"
				}
				envelope.Error(w, code, msg)
				return
			}
			if p.FormName() == "file" || p.FileName() != "" {
				body, name = p, p.FileName()
				break
			}
		}
	} else if name == "" {
		if _, params, err := mime.ParseMediaType(req.Header.Get("Content-Disposition")); err == nil {
			name = params["filename"]
		}
	}
	row := &recorder.AttachmentRow{ID: ulid.Make().String(), Room: room, Uploader: who.Identity, Name: cleanName(name)}
	if code, msg := a.store(req, body, row); code != 0 {
		envelope.Error(w, code, msg)
		return
	}
	envelope.JSON(w, http.StatusCreated, uploadJSON{row.ID, row.Name, row.ContentType, row.Size, row.Image, row.Width, row.Height})
}

// store writes body to the content-addressed store and inserts row
// (ID, Room, Uploader and Name set by the caller); on failure it leaves
// nothing behind and returns an HTTP status and message.
func (a *api) store(req *http.Request, body io.Reader, row *recorder.AttachmentRow) (int, string) {
	dir := a.dir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		a.log.Error("recorder: attachments dir", "err", err)
		code, msg := storageError(err)
		return code, msg
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		a.log.Error("recorder: attachment temp file", "err", err)
		code, msg := storageError(err)
		return code, msg
	}
	keep := false
	defer func() {
		tmp.Close()
		if !keep {
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	var head bytes.Buffer
	n, err := io.Copy(io.MultiWriter(tmp, h, &limitedBuffer{&head, 512}), body)
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return http.StatusRequestEntityTooLarge, "attachment larger than the limit"
		}
		var pe *os.PathError
		if errors.As(err, &pe) || errors.Is(err, syscall.ENOSPC) {
			a.log.Error("recorder: attachment write", "err", err)
			code, msg := storageError(err)
			return code, msg
		}
		return http.StatusBadRequest, "upload interrupted"
	}
	if n == 0 {
		return http.StatusBadRequest, "empty attachment"
	}
	row.Size, row.Hash, row.ContentType = n, hex.EncodeToString(h.Sum(nil)), http.DetectContentType(head.Bytes())
	switch row.ContentType {
	case "image/png", "image/jpeg", "image/gif":
		if _, err := tmp.Seek(0, io.SeekStart); err == nil {
			if cfg, _, err := image.DecodeConfig(tmp); err == nil {
				row.Image, row.Width, row.Height = true, cfg.Width, cfg.Height
			}
		}
	case "image/webp":
		if w, h, ok := webpSize(head.Bytes()); ok {
			row.Image, row.Width, row.Height = true, w, h
		}
	}
	unlock, err := a.lockUploads(req.Context())
	if err != nil {
		a.log.Error("recorder attachments: upload lock", "err", err)
		return http.StatusInternalServerError, "internal error"
	}
	defer unlock()
	if code, msg := a.checkQuota(req, row); code != 0 {
		return code, msg
	}
	final := a.blobPath(row.Hash)
	if _, err := os.Stat(final); err != nil { // else the same content is stored already
		if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
			code, msg := storageError(err)
			return code, msg
		}
		if err := os.Rename(tmp.Name(), final); err != nil {
			a.log.Error("recorder: attachment rename", "err", err)
			code, msg := storageError(err)
			return code, msg
		}
		keep = true
	}
	if a.beforeInsert != nil {
		a.beforeInsert()
	}
	row.CreatedAt = time.Now().UTC()
	if err := a.db.WithContext(req.Context()).Create(row).Error; err != nil {
		a.log.Error("recorder attachments: insert", "err", err)
		return http.StatusInternalServerError, "internal error"
	}
	return 0, ""
}

// limitedBuffer keeps the first n bytes written to it.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// webpSize reads a WebP's dimensions from its first bytes (VP8, VP8L or
// VP8X), without a decoder.
func webpSize(b []byte) (w, h int, ok bool) {
	if len(b) < 30 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, false
	}
	switch string(b[12:16]) {
	case "VP8 ":
		if b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a {
			return 0, 0, false
		}
		return int(binary.LittleEndian.Uint16(b[26:]) & 0x3fff), int(binary.LittleEndian.Uint16(b[28:]) & 0x3fff), true
	case "VP8L":
		if b[20] != 0x2f {
			return 0, 0, false
		}
		v := binary.LittleEndian.Uint32(b[21:])
		return int(v&0x3fff) + 1, int((v>>14)&0x3fff) + 1, true
	case "VP8X":
		le24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
		return le24(b[24:]) + 1, le24(b[27:]) + 1, true
	}
	return 0, 0, false
}

// attachmentURL hands a participant a download URL if it uploaded the
// attachment or may see a message that references it.
func (a *api) attachmentURL(w http.ResponseWriter, req *http.Request) {
	who, err := a.keys.Verify(auth.FromRequest(req))
	if err != nil {
		envelope.Error(w, http.StatusUnauthorized, err.Error())
		return
	}
	db := a.db.WithContext(req.Context())
	var att recorder.AttachmentRow
	err = db.Where("id = ?", req.PathValue("id")).Take(&att).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		envelope.Error(w, http.StatusNotFound, "attachment not found")
		return
	}
	if err != nil {
		a.fail(w, req, err)
		return
	}
	allowed := false
	switch {
	case who.Grant.RoomAdmin && (who.Grant.Room == "" || who.Grant.Room == att.Room):
		allowed = true
	case who.Grant.Room != att.Room:
	case att.Uploader == who.Identity:
		allowed = true
	default:
		var n int64
		q := db.Model(&recorder.MessageRow{}).Where("messages.room = ? AND messages.attachment_id = ? AND messages.deleted = ?", att.Room, att.ID, false)
		if err := recorder.VisibleTo(q, who.Identity).Limit(1).Count(&n).Error; err != nil {
			a.fail(w, req, err)
			return
		}
		allowed = n > 0
	}
	if !allowed {
		envelope.Error(w, http.StatusForbidden, "no message you can see references this attachment")
		return
	}
	exp := a.cfg.Now().Add(a.cfg.URLTTL).UTC().Truncate(time.Second)
	envelope.JSON(w, http.StatusOK, map[string]any{
		"url":       links.BaseURL(req, a.cfg.PublicURL) + links.AttachmentPath(att.ID) + "?" + a.sig.AttachmentQuery(att.ID, who.Identity, exp),
		"expiresAt": exp.Format(time.RFC3339),
	})
}

// download serves an attachment through a signed URL.
func (a *api) download(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	q := req.URL.Query()
	if err := a.sig.CheckAttachment(q, a.cfg.Now(), id); err != nil {
		envelope.Error(w, http.StatusForbidden, err.Error())
		return
	}
	var att recorder.AttachmentRow
	err := a.db.WithContext(req.Context()).Where("id = ?", id).Take(&att).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		envelope.Error(w, http.StatusNotFound, "attachment not found")
		return
	}
	if err != nil {
		a.fail(w, req, err)
		return
	}
	f, err := os.Open(a.blobPath(att.Hash))
	if err != nil {
		a.log.Error("recorder: attachment file missing", "id", id, "err", err)
		envelope.Error(w, http.StatusNotFound, "attachment file missing")
		return
	}
	defer f.Close()
	disp := "attachment"
	if att.Image {
		disp = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", att.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": att.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, max-age=300")
	http.ServeContent(w, req, "", att.CreatedAt, f)
}
