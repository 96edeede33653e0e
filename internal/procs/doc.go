// Package procs sizes Go's scheduler to the load: it keeps GOMAXPROCS as
// low as the process's CPU use allows, from one up to Go's own default,
// and raises it within a tick once the process gets busy.
//
// Why: at chat rates a server is mostly idle between datagrams, and every
// datagram readies a goroutine. With more than one P, each wake-up also
// wakes an idle P's thread, which spins looking for work and goes back to
// sleep (futex, epoll, the scheduler's own loop): on this project's 2-core
// benchmark machine that was a quarter of the server's CPU per delivered
// message. One P does the same work without those wake-ups; a saturated
// server gets every P back. The binary runs it (`serve --adaptive-procs`);
// in-process test servers leave GOMAXPROCS alone.
package procs
