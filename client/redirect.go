package client

import "errors"

// ErrRedirectLoop is returned by Join when the servers redirected it more
// than protocol.MaxRedirects times in a row.
var ErrRedirectLoop = errors.New("client: too many redirects between cluster nodes")

// redirectError is a node's answer that another node hosts the room.
type redirectError struct{ url string }

func (e *redirectError) Error() string { return "redirected to " + e.url }
