package e2ee

import (
	"sync"
	"testing"
)

func TestKeyRing(t *testing.T) {
	var r KeyRing
	if r.Get("bob") != nil {
		t.Fatal("an empty ring has a key")
	}
	a, _ := GenerateKey()
	b1, _ := GenerateKey()
	b2, _ := GenerateKey()
	if prev, changed := r.Set("bob", b1.Public()); prev != nil || changed {
		t.Fatal("a first key is not a change")
	}
	if _, changed := r.Set("bob", b1.Public()); changed {
		t.Fatal("the same key again is not a change")
	}
	if prev, changed := r.Set("bob", b2.Public()); !changed || !prev.Equal(b1.Public()) {
		t.Fatal("a new key for bob is a change from the old one")
	}
	r.Set("alice", a.Public())
	keys, missing := r.For("alice", "bob", "carol")
	if len(keys) != 2 || !keys["bob"].Equal(b2.Public()) || len(missing) != 1 || missing[0] != "carol" {
		t.Fatalf("For: %v missing %v", keys, missing)
	}
	// What For returns is what Seal takes: bob, even absent, can read it
	// with the key he announced last.
	env, err := Seal([]byte("while you were out"), Context{Room: "r", Sender: "alice", To: []string{"bob"}}, keys)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := Open(env, Context{Room: "r", Sender: "alice", To: []string{"bob"}}, "bob", b2); err != nil || string(pt) != "while you were out" {
		t.Fatalf("%q %v", pt, err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				r.Set("bob", []*PublicKey{b1.Public(), b2.Public()}[i%2])
				r.For("alice", "bob")
			}
		})
	}
	wg.Wait()
}
