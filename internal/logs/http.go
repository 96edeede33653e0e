package logs

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// RequestIDHeader carries a request's id, in and out.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestID is the id the middleware gave r's context, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// newRequestID is 96 random bits in hex.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts an id set by a proxy in front of us: short, and
// nothing that could forge a log line or a header.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// quietRoutes are logged at debug while they succeed: probes, scrapes and
// the browser client's static files would otherwise fill the log.
var quietRoutes = map[string]bool{"GET /healthz": true, "GET /metrics": true, "/": true}

// Requests logs one line per request through mux: method, route (the
// mux's pattern, never the raw path or query, which may carry a token or
// a signed link), status, duration, bytes, and the request id, which is
// also set as the X-Request-Id response header (a well-formed one from the
// client or a proxy is kept). A WebSocket's line comes when it closes,
// with status 101 and the socket's lifetime as its duration.
func Requests(log *slog.Logger, mux *http.ServeMux) http.Handler {
	return RequestsObserved(log, mux, nil)
}

// Observer is told of every finished request: its route template, status
// and duration (for metrics).
type Observer func(method, route string, status int, took time.Duration)

// RequestsObserved is Requests that also tells observe, when not nil.
func RequestsObserved(log *slog.Logger, mux *http.ServeMux, observe Observer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			// The mux records the pattern it matched on r itself.
			route := r.Pattern
			level := slog.LevelInfo
			if quietRoutes[route] && status < 400 {
				level = slog.LevelDebug
			}
			if _, path, ok := strings.Cut(route, " "); ok {
				route = path
			}
			if route == "" {
				route = "unmatched"
			}
			attrs := []slog.Attr{
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.Int64("bytes_out", sw.bytes), slog.String("request_id", id),
			}
			if r.ContentLength > 0 {
				attrs = append(attrs, slog.Int64("bytes_in", r.ContentLength))
			}
			if params := pathParams(r, route); len(params) > 0 {
				attrs = append(attrs, slog.Group("params", params...))
			}
			log.LogAttrs(r.Context(), level, "http request", attrs...)
			if observe != nil {
				observe(r.Method, route, status, time.Since(start))
			}
		}()
		mux.ServeHTTP(sw, r)
	})
}

// pathParams are the values of the route's wildcards ({room}, {id}):
// names and ids, which the route template alone does not say.
func pathParams(r *http.Request, route string) []any {
	var out []any
	for _, seg := range strings.Split(route, "/") {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
		if name == "$" {
			continue
		}
		out = append(out, name, r.PathValue(name))
	}
	return out
}

// statusWriter records the status and size of a response. It passes on
// what the writer underneath can do: flushing (streamed CSV exports),
// hijacking (the WebSocket upgrade) and ReadFrom (sendfile for
// attachments).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r)
	}
	w.bytes += n
	return n, err
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("logs: the response cannot be hijacked")
	}
	c, rw, err := h.Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
