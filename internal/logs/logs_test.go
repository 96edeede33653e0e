package logs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// jsonLines parses a JSON log, failing on any line that is not an object.
func jsonLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestNewFormatsAndRedacts(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "json", slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "api_key", "devkey", "api_secret", "s3cret", "token", "eyJ.x.y", "turn_credential", "pw")
	log.Debug("not shown")
	lines := jsonLines(t, buf.Bytes())
	if len(lines) != 1 {
		t.Fatalf("%d lines: %s", len(lines), buf.Bytes())
	}
	l := lines[0]
	if l["api_key"] != "devkey" || l["api_secret"] != Redacted || l["token"] != Redacted || l["turn_credential"] != Redacted {
		t.Fatalf("redaction: %v", l)
	}
	buf.Reset()
	if log, err = New(&buf, "text", slog.LevelDebug); err != nil {
		t.Fatal(err)
	}
	log.Debug("shown", "room", "r")
	if !strings.Contains(buf.String(), `msg=shown room=r`) {
		t.Fatalf("text: %q", buf.String())
	}
	if _, err := New(io.Discard, "xml", slog.LevelInfo); err == nil {
		t.Fatal("xml accepted")
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Fatal("level loud accepted")
	}
}

type countingStringer struct{ n *int }

func (c countingStringer) String() string { *c.n++; return "x" }

// TestPionLevels: Pion is quiet at info (its info and warnings are
// debug, its errors warn, its own level kept as pion_level), and what is
// below the level is not even formatted.
func TestPionLevels(t *testing.T) {
	var buf bytes.Buffer
	log, _ := New(&buf, "json", slog.LevelInfo)
	l := Pion(log).NewLogger("ice")
	formatted := 0
	l.Tracef("trace %v", countingStringer{&formatted})
	l.Debugf("debug %v", countingStringer{&formatted})
	l.Infof("info %v", countingStringer{&formatted})
	l.Warnf("warn %v", countingStringer{&formatted})
	l.Info("info")
	l.Warn("warn")
	l.Errorf("error %d", 1)
	if formatted != 0 {
		t.Errorf("%d disabled lines were formatted", formatted)
	}
	lines := jsonLines(t, buf.Bytes())
	if len(lines) != 1 || lines[0]["level"] != "WARN" || lines[0]["msg"] != "error 1" || lines[0]["pion_level"] != "error" ||
		lines[0]["component"] != "pion" || lines[0]["scope"] != "ice" {
		t.Fatalf("at info: %s", buf.Bytes())
	}
	buf.Reset()
	log, _ = New(&buf, "json", slog.LevelDebug)
	l = Pion(log).NewLogger("dtls")
	l.Info("handshake")
	l.Warn("odd")
	l.Trace("packet")
	lines = jsonLines(t, buf.Bytes())
	if len(lines) != 2 || lines[0]["level"] != "DEBUG" || lines[0]["pion_level"] != "info" || lines[1]["pion_level"] != "warn" {
		t.Fatalf("at debug: %s", buf.Bytes())
	}
}

// TestRequests: one line per request with the route template (never the
// raw path's query), status, duration and the id that the response
// carries; a proxy's well-formed id is kept, a malformed one replaced.
func TestRequests(t *testing.T) {
	var buf syncBuffer
	log, _ := New(&buf, "json", slog.LevelDebug)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if RequestID(r.Context()) == "" {
			t.Error("no request id in the handler's context")
		}
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "short and stout")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(Requests(log, mux))
	defer srv.Close()
	get := func(path, id string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if id != "" {
			req.Header.Set(RequestIDHeader, id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	r1 := get("/v1/things/42?sig=SIGNATURE&access_token=TOKEN", "")
	r2 := get("/v1/things/43", "from-the-proxy_1.2")
	r3 := get("/v1/things/44", `bad id" level=ERROR`)
	get("/nowhere", "")
	get("/healthz", "")
	if len(r1.Header.Get(RequestIDHeader)) != 24 || r2.Header.Get(RequestIDHeader) != "from-the-proxy_1.2" ||
		strings.Contains(r3.Header.Get(RequestIDHeader), " ") {
		t.Fatalf("ids: %q %q %q", r1.Header.Get(RequestIDHeader), r2.Header.Get(RequestIDHeader), r3.Header.Get(RequestIDHeader))
	}
	out := buf.String()
	if strings.Contains(out, "SIGNATURE") || strings.Contains(out, "TOKEN") || strings.Contains(out, "things/42") {
		t.Fatalf("the raw URL is logged: %s", out)
	}
	lines := jsonLines(t, []byte(out))
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5: %s", len(lines), out)
	}
	l := lines[0]
	params, _ := l["params"].(map[string]any)
	if l["msg"] != "http request" || l["method"] != "GET" || l["route"] != "/v1/things/{id}" || l["status"] != 418.0 ||
		l["bytes_out"] != 15.0 || l["request_id"] != r1.Header.Get(RequestIDHeader) || params["id"] != "42" || l["level"] != "INFO" {
		t.Fatalf("line %v", l)
	}
	if _, ok := l["duration_ms"].(float64); !ok {
		t.Fatalf("no duration: %v", l)
	}
	if lines[1]["request_id"] != "from-the-proxy_1.2" {
		t.Fatalf("proxy id: %v", lines[1])
	}
	if lines[3]["route"] != "unmatched" || lines[3]["status"] != 404.0 {
		t.Fatalf("404: %v", lines[3])
	}
	if lines[4]["route"] != "/healthz" || lines[4]["level"] != "DEBUG" {
		t.Fatalf("a probe is logged at debug: %v", lines[4])
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogKeysAreSnakeCase reads every slog call in the module's non-test
// code: each literal key is snake_case, so that one query works on every
// package's lines.
func TestLogKeysAreSnakeCase(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	methods := map[string]int{ // method -> index of the first key/attr argument
		"Debug": 1, "Info": 1, "Warn": 1, "Error": 1, "With": 0,
		"DebugContext": 2, "InfoContext": 2, "WarnContext": 2, "ErrorContext": 2, "Log": 3, "LogAttrs": 3,
	}
	fset := token.NewFileSet()
	calls := 0
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			first, ok := methods[sel.Sel.Name]
			// A logger: slog itself, or a receiver whose name says log.
			if !ok || !strings.Contains(strings.ToLower(exprString(sel.X)), "log") {
				return true
			}
			calls++
			check := func(e ast.Expr) {
				if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if k, _ := strconv.Unquote(lit.Value); !snake.MatchString(k) {
						t.Errorf("%s: log key %q is not snake_case", fset.Position(lit.Pos()), k)
					}
				}
			}
			args := call.Args
			for i := first; i < len(args); {
				switch a := args[i].(type) {
				case *ast.CallExpr: // slog.String("key", v), slog.Group("key", ...)
					if s, ok := a.Fun.(*ast.SelectorExpr); ok && exprString(s.X) == "slog" && len(a.Args) > 0 {
						check(a.Args[0])
					}
					i++
				case *ast.BasicLit:
					check(a)
					i += 2
				default: // an attr or a slice of them
					i++
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 20 {
		t.Fatalf("found only %d log calls: the scan is broken", calls)
	}
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.CallExpr:
		return exprString(e.Fun) + "()"
	}
	return ""
}
