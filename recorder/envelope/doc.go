// Package envelope writes the HTTP API's answers in RealtimeKit's
// envelope, {"success":true,"data":…} or
// {"success":false,"error":{"code":…,"message":…}}, so the recorder's API,
// its attachment endpoints and the webhook API answer alike.
package envelope
