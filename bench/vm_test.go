package bench

// What the machine charges for the three things a delivery is made of
// besides its own work: entering the kernel, a loopback datagram, and
// waking a sleeping thread. bench/results/2026-12-03-rounds-8-9.md ("What the machine charges")
// compares them with a delivery's cost. Loopback only, bounded by b.N.
//
//	go test ./bench -run '^$' -bench 'Syscall|Loopback|ThreadWake' -benchtime 200000x

import (
	"net"
	"runtime"
	"syscall"
	"testing"
)

// BenchmarkSyscall is the cheapest system call there is.
func BenchmarkSyscall(b *testing.B) {
	cpu0 := processCPU(b)
	for b.Loop() {
		syscall.Getppid()
	}
	reportCPU(b, cpu0)
}

// BenchmarkLoopbackSendto sends 1,200-byte datagrams (an SCTP packet's
// size) to a socket on 127.0.0.1 that another goroutine reads: the send
// also pays the kernel's delivery to that socket and the reader's wake-up.
func BenchmarkLoopbackSendto(b *testing.B) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	_ = rx.SetReadBuffer(4 << 20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt := make([]byte, 1200)
	cpu0 := processCPU(b)
	for b.Loop() {
		if _, err := tx.WriteToUDPAddrPort(pkt, to); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportCPU(b, cpu0)
	_ = rx.Close()
	<-done
}

// BenchmarkThreadWake passes a token back and forth between two
// goroutines locked to their own threads: each pass wakes a sleeping
// thread (a futex wake and a context switch), as an arriving datagram or
// a goroutine hand-off across threads does.
func BenchmarkThreadWake(b *testing.B) {
	ping, pong := make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		for range ping {
			pong <- struct{}{}
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := processCPU(b)
	for b.Loop() {
		ping <- struct{}{}
		<-pong
	}
	reportCPU(b, cpu0)
	close(ping)
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// reportCPU adds the CPU time per operation since cpu0 (both threads,
// the reader's too), beside the wall time b reports.
func reportCPU(b *testing.B, cpu0 int64) {
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
