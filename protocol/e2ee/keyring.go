package e2ee

import "sync"

// KeyRing remembers the last public key announced for each identity. A
// sender seals to what it holds, so a destination who is momentarily
// absent still gets a sealed key; a key that differs from the one held is
// a key change, which the caller announces (the server to the room, a
// client to its user, since only comparing fingerprints tells a new device
// from a substituted key). Safe for concurrent use.
type KeyRing struct {
	mu   sync.Mutex
	keys map[string]*PublicKey
}

// Set records identity's key. It reports the key it replaced and whether
// that was a change: false for the first key of an identity and for the
// same key announced again.
func (r *KeyRing) Set(identity string, k *PublicKey) (previous *PublicKey, changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = make(map[string]*PublicKey)
	}
	previous = r.keys[identity]
	r.keys[identity] = k
	return previous, previous != nil && !previous.Equal(k)
}

// Get is identity's last key, or nil.
func (r *KeyRing) Get(identity string) *PublicKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[identity]
}

// For returns the keys of identities, as Seal takes them, and the
// identities it holds no key for.
func (r *KeyRing) For(identities ...string) (keys map[string]*PublicKey, missing []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys = make(map[string]*PublicKey, len(identities))
	for _, id := range identities {
		if k := r.keys[id]; k != nil {
			keys[id] = k
		} else {
			missing = append(missing, id)
		}
	}
	return keys, missing
}
