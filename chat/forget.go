package chat

// Forget drops room's state at once and writes nothing more about it:
// the room is hosted elsewhere now (a cluster node lost its lease, or
// handed it over on drain). Its sessions get `unavailable` for anything
// they send until the transport closes them, their departures are not
// recorded (the session goes on on the new node), and a later Attach
// loads the room again from the store, with the seq the new host left.
func (srv *Server) Forget(name string) {
	srv.mu.Lock()
	r := srv.rooms[name]
	if r != nil {
		delete(srv.rooms, name)
	}
	delete(srv.mutes, name) // the store has them; a new tenure reloads them
	srv.mu.Unlock()
	if r == nil {
		return
	}
	<-r.ready
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, p := range r.people {
		if p.grace != nil {
			p.grace.Stop()
			p.grace = nil
		}
	}
	if r.ending != nil {
		r.ending.Stop()
		r.ending = nil
	}
	for _, s := range r.sessions {
		s.stopTypingLocked(false)
	}
	srv.log.Info("chat: room handed over, state dropped", "room", name)
}

// Loaded reports whether room's state is in memory: someone is attached,
// a departure is pending, or writes about it are in flight.
func (srv *Server) Loaded(name string) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.rooms[name] != nil
}
