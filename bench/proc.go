package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// clkTck is USER_HZ, the unit of utime and stime in /proc/PID/stat. It is
// 100 on every Linux the project runs on (the kernel ABI fixes it).
const clkTck = 100

// procCPU returns the process's user+system CPU time.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state(3) ... utime is field 14, stime 15 → indexes 11, 12.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// procSwitches returns the context switches of every thread of the
// process, voluntary (it slept: waiting for the network, a lock, a timer)
// and involuntary (preempted). A thread that ended is no longer counted;
// a Go server's threads rarely end.
func procSwitches(pid int) (vol, invol int64, err error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // the thread ended meanwhile
		}
		addStatus(b, map[string]*int64{"voluntary_ctxt_switches:": &vol, "nonvoluntary_ctxt_switches:": &invol})
	}
	return vol, invol, nil
}

// procMem returns VmRSS and VmHWM (peak RSS) in bytes.
func procMem(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	addStatus(b, map[string]*int64{"VmRSS:": &rss, "VmHWM:": &hwm})
	return rss << 10, hwm << 10, nil // kB
}

// addStatus adds the number after each key of a /proc status file (a
// line "key: value [unit]") to the key's counter.
func addStatus(status []byte, keys map[string]*int64) {
	for line := range strings.Lines(string(status)) {
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		if dst, ok := keys[fs[0]]; ok {
			if v, err := strconv.ParseInt(fs[1], 10, 64); err == nil {
				*dst += v
			}
		}
	}
}

// UDPCounters are the kernel's UDP error counters (/proc/net/snmp),
// machine-wide.
type UDPCounters struct {
	InErrors     int64 `json:"in_errors"`
	RcvbufErrors int64 `json:"rcvbuf_errors"`
	SndbufErrors int64 `json:"sndbuf_errors"`
}

func readUDP() (UDPCounters, error) {
	var c UDPCounters
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return c, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		f := strings.Fields(line)[1:]
		if names == nil {
			names = f
			continue
		}
		for i, v := range f {
			if i >= len(names) {
				break
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			switch names[i] {
			case "InErrors":
				c.InErrors = n
			case "RcvbufErrors":
				c.RcvbufErrors = n
			case "SndbufErrors":
				c.SndbufErrors = n
			}
		}
		break
	}
	return c, nil
}

func (c UDPCounters) sub(o UDPCounters) UDPCounters {
	return UDPCounters{c.InErrors - o.InErrors, c.RcvbufErrors - o.RcvbufErrors, c.SndbufErrors - o.SndbufErrors}
}

func readSysctl(name string) int64 {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// scrapeCounter reads one counter from the server's Prometheus /metrics
// (loopback only, as the rest of the bench). -1 when unavailable.
func scrapeCounter(base, name string) float64 {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(strings.TrimSuffix(base, "/") + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

func selfPID() int { return os.Getpid() }

// monitor polls a process's RSS while the measured phase runs.
type monitor struct {
	pid  int
	quit chan struct{}
	done chan int64
}

func startMonitor(pid int) *monitor {
	m := &monitor{pid: pid, quit: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		var peak int64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := procMem(pid); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-t.C:
			case <-m.quit:
				m.done <- peak
				return
			}
		}
	}()
	return m
}

// stop returns the peak RSS: the kernel's VmHWM (the process's high-water
// mark since it started) when it is readable, else the largest VmRSS seen.
func (m *monitor) stop() int64 {
	close(m.quit)
	peak := <-m.done
	if _, hwm, err := procMem(m.pid); err == nil && hwm > 0 {
		return max(peak, hwm)
	}
	return peak
}
