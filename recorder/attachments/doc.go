// Package attachments stores chat attachments and serves them: uploads
// authenticated with the participant's own token, stored once per content
// (DataDir/attachments/<2 hex>/<sha256>) with one row per upload;
// downloads through signed expiring URLs (recorder/links) that name the
// viewer. A viewer gets a URL only for attachments it uploaded or that a
// message it may see references. Uploads are written to the database
// directly (not through the chat writer): the client needs the id before
// it can send the message, and the upload path is not the real-time one.
// Uploads no message references are removed after a grace (sweep.go).
package attachments
