package chat

import (
	"testing"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
)

// The shared protocol scenarios, over fake connections, with a synchronous
// and an asynchronous store.
func TestScenarios(t *testing.T) {
	chattest.RunAll(t, newFakeEnv(t, DefaultConfig(), nil))
}

func TestScenariosAsyncStore(t *testing.T) {
	st := NewMemoryStore()
	st.Async = true
	chattest.RunAll(t, newFakeEnv(t, DefaultConfig(), st))
}
