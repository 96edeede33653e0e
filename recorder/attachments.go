package recorder

// Attachments: uploads authenticated with the participant's own token,
// stored once per content (DataDir/attachments/<2 hex>/<sha256>), one row
// per upload; downloads through signed expiring URLs that name the viewer.
// A viewer gets a URL only for attachments it uploaded or that a message it
// may see references. Uploads are written to the database directly (not
// through the chat writer): the client needs the id before it can send the
// message, and the upload path is not the real-time one.

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
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/auth"
)

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

func (r *Recorder) blobPath(hash string) string {
	return filepath.Join(r.blobDir, hash[:2], hash)
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
		WriteError(w, http.StatusUnauthorized, err.Error())
		return
	}
	if who.Grant.Room != room || !who.Grant.PublishData() {
		WriteError(w, http.StatusForbidden, "token does not allow posting to this room")
		return
	}
	limit := a.cfg.MaxUploadBytes
	if req.ContentLength > limit {
		WriteError(w, http.StatusRequestEntityTooLarge, "attachment larger than the limit")
		return
	}
	req.Body = http.MaxBytesReader(w, req.Body, limit)
	body, name := io.Reader(req.Body), req.URL.Query().Get("name")
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt == "multipart/form-data" {
		mr, err := req.MultipartReader()
		if err != nil {
			WriteError(w, http.StatusBadRequest, "bad multipart body")
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
				WriteError(w, code, msg)
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
	row, code, msg := a.store(req, body)
	if code != 0 {
		WriteError(w, code, msg)
		return
	}
	row.ID, row.Room, row.Uploader, row.Name = ulid.Make().String(), room, who.Identity, cleanName(name)
	row.CreatedAt = time.Now().UTC()
	if err := a.r.db.WithContext(req.Context()).Create(row).Error; err != nil {
		a.fail(w, req, err)
		return
	}
	WriteJSON(w, http.StatusCreated, uploadJSON{row.ID, row.Name, row.ContentType, row.Size, row.Image, row.Width, row.Height})
}

// store writes body to the content-addressed store; on failure it leaves
// nothing behind and returns an HTTP status and message.
func (a *api) store(req *http.Request, body io.Reader) (*AttachmentRow, int, string) {
	dir := a.r.blobDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		a.log.Error("recorder: attachments dir", "err", err)
		code, msg := storageError(err)
		return nil, code, msg
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		a.log.Error("recorder: attachment temp file", "err", err)
		code, msg := storageError(err)
		return nil, code, msg
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
			return nil, http.StatusRequestEntityTooLarge, "attachment larger than the limit"
		}
		var pe *os.PathError
		if errors.As(err, &pe) || errors.Is(err, syscall.ENOSPC) {
			a.log.Error("recorder: attachment write", "err", err)
			code, msg := storageError(err)
			return nil, code, msg
		}
		return nil, http.StatusBadRequest, "upload interrupted"
	}
	if n == 0 {
		return nil, http.StatusBadRequest, "empty attachment"
	}
	row := &AttachmentRow{Size: n, Hash: hex.EncodeToString(h.Sum(nil)), ContentType: http.DetectContentType(head.Bytes())}
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
	final := a.r.blobPath(row.Hash)
	if _, err := os.Stat(final); err == nil {
		return row, 0, "" // same content stored already
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		code, msg := storageError(err)
		return nil, code, msg
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		a.log.Error("recorder: attachment rename", "err", err)
		code, msg := storageError(err)
		return nil, code, msg
	}
	keep = true
	return row, 0, ""
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

func (a *api) attachmentQuery(id, viewer string, exp time.Time) string {
	q := a.sig.sign(exp, "attachment", id, viewer)
	if viewer != "" {
		q.Set("viewer", viewer)
	}
	return q.Encode()
}

// attachmentLink is an absolute signed download URL for viewer.
func (a *api) attachmentLink(req *http.Request, id, viewer string, ttl time.Duration) string {
	return a.baseURL(req) + "/v1/attachments/" + id + "?" + a.attachmentQuery(id, viewer, a.cfg.Now().Add(ttl))
}

// attachmentURL hands a participant a download URL if it uploaded the
// attachment or may see a message that references it.
func (a *api) attachmentURL(w http.ResponseWriter, req *http.Request) {
	who, err := a.keys.Verify(auth.FromRequest(req))
	if err != nil {
		WriteError(w, http.StatusUnauthorized, err.Error())
		return
	}
	db := a.r.db.WithContext(req.Context())
	var att AttachmentRow
	err = db.Where("id = ?", req.PathValue("id")).Take(&att).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		WriteError(w, http.StatusNotFound, "attachment not found")
		return
	}
	if err != nil {
		a.fail(w, req, err)
		return
	}
	allowed := false
	switch {
	case who.Grant.RoomAdmin && mayAdmin(who, att.Room):
		allowed = true
	case who.Grant.Room != att.Room:
	case att.Uploader == who.Identity:
		allowed = true
	default:
		var n int64
		q := db.Model(&MessageRow{}).Where("messages.room = ? AND messages.attachment_id = ? AND messages.deleted = ?", att.Room, att.ID, false)
		if err := visibleTo(q, who.Identity).Limit(1).Count(&n).Error; err != nil {
			a.fail(w, req, err)
			return
		}
		allowed = n > 0
	}
	if !allowed {
		WriteError(w, http.StatusForbidden, "no message you can see references this attachment")
		return
	}
	exp := a.cfg.Now().Add(a.cfg.AttachmentURLTTL).UTC().Truncate(time.Second)
	WriteJSON(w, http.StatusOK, map[string]any{
		"url":       a.baseURL(req) + "/v1/attachments/" + att.ID + "?" + a.attachmentQuery(att.ID, who.Identity, exp),
		"expiresAt": exp.Format(time.RFC3339),
	})
}

// download serves an attachment through a signed URL.
func (a *api) download(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	q := req.URL.Query()
	if err := a.sig.check(q, a.cfg.Now(), "attachment", id, q.Get("viewer")); err != nil {
		WriteError(w, http.StatusForbidden, err.Error())
		return
	}
	var att AttachmentRow
	err := a.r.db.WithContext(req.Context()).Where("id = ?", id).Take(&att).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		WriteError(w, http.StatusNotFound, "attachment not found")
		return
	}
	if err != nil {
		a.fail(w, req, err)
		return
	}
	f, err := os.Open(a.r.blobPath(att.Hash))
	if err != nil {
		a.log.Error("recorder: attachment file missing", "id", id, "err", err)
		WriteError(w, http.StatusNotFound, "attachment file missing")
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
