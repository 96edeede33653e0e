package client

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// Encrypted attachments (docs/e2ee.md). The client encrypts the file with
// AES-128-GCM under a fresh random key and nonce (additional data
// FileAAD), uploads the ciphertext as an opaque file named "encrypted",
// and sends a private message of kind file whose sealed content carries
// the file's key, nonce, name, type and size beside the caption:
//
//	{"text": "caption", "file": {"name": …, "type": …, "size": …, "key": …, "nonce": …}}
//
// The server stores and serves only ciphertext, to the message's audience
// as for any attachment; it still learns the ciphertext's size.

// FileAAD is the additional data of an encrypted attachment's bytes.
const FileAAD = "backchannel e2ee v1 file"

// EncryptedFile is what the sealed content says of an encrypted attachment.
type EncryptedFile struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Size  int64  `json:"size"`
	Key   string `json:"key"`   // base64, 16 bytes
	Nonce string `json:"nonce"` // base64, 12 bytes
}

// encryptFile returns the ciphertext of data and its description.
func encryptFile(name, contentType string, data []byte) ([]byte, *EncryptedFile, error) {
	key, nonce := make([]byte, 16), make([]byte, 12)
	rand.Read(key)
	rand.Read(nonce)
	gcm, err := fileGCM(key)
	if err != nil {
		return nil, nil, err
	}
	f := &EncryptedFile{Name: name, Type: contentType, Size: int64(len(data)),
		Key: base64.StdEncoding.EncodeToString(key), Nonce: base64.StdEncoding.EncodeToString(nonce)}
	return gcm.Seal(nil, nonce, data, []byte(FileAAD)), f, nil
}

// Decrypt opens the downloaded ciphertext of f.
func (f *EncryptedFile) Decrypt(ct []byte) ([]byte, error) {
	key, err1 := base64.StdEncoding.DecodeString(f.Key)
	nonce, err2 := base64.StdEncoding.DecodeString(f.Nonce)
	if err1 != nil || err2 != nil || len(nonce) != 12 {
		return nil, errors.New("client: the file's key or nonce is malformed")
	}
	gcm, err := fileGCM(key)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, nonce, ct, []byte(FileAAD))
	if err != nil {
		return nil, errors.New("client: the file does not decrypt")
	}
	return pt, nil
}

func fileGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 16 {
		return nil, errors.New("client: a file key is 16 bytes")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// httpURL is the server's base URL for the HTTP API.
func (c *Client) httpURL(path string) string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return c.URL + path
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/v1/rtc"), "/") + path
	u.RawQuery = ""
	return u.String()
}

// apiDo sends an authenticated request and decodes a JSON answer into out.
func (c *Client) apiDo(ctx context.Context, method, u string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("client: %s %s: %d %s", method, req.URL.Path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

// SendPrivateEncryptedFile encrypts data, uploads the ciphertext and sends
// it to the identities to as an end-to-end encrypted file message with
// caption, under clientID.
func (c *Client) SendPrivateEncryptedFile(ctx context.Context, clientID, name, contentType string, data []byte, caption string, to ...string) error {
	ct, f, err := encryptFile(name, contentType, data)
	if err != nil {
		return err
	}
	var up struct {
		ID string `json:"id"`
	}
	u := c.httpURL("/v1/rooms/"+url.PathEscape(c.Joined.Room)+"/attachments") + "?name=encrypted"
	if err := c.apiDo(ctx, http.MethodPost, u, ct, &up); err != nil {
		return err
	}
	content, err := json.Marshal(struct {
		Text string         `json:"text"`
		File *EncryptedFile `json:"file"`
	}{caption, f})
	if err != nil {
		return err
	}
	env, err := c.sealContent(ctx, content, "", to)
	if err != nil {
		return err
	}
	kind := string(protocol.KindFile)
	req := protocol.EncryptedChatRequest(clientID, env, to...)
	req.Kind, req.AttachmentID = &kind, &up.ID
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return c.SendChat(b)
}

// DownloadEncryptedFile fetches the ciphertext of a received encrypted
// file message (through a signed link the server gives its audience) and
// decrypts it.
func (c *Client) DownloadEncryptedFile(ctx context.Context, r Received) ([]byte, error) {
	if r.File == nil || r.Message.Attachment == nil {
		return nil, errors.New("client: not an opened encrypted file message")
	}
	var link struct {
		URL string `json:"url"`
	}
	if err := c.apiDo(ctx, http.MethodGet, c.httpURL("/v1/attachments/"+url.PathEscape(r.Message.Attachment.ID)+"/url"), nil, &link); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("client: download: %d", resp.StatusCode)
	}
	ct, err := io.ReadAll(io.LimitReader(resp.Body, r.File.Size+1<<20))
	if err != nil {
		return nil, err
	}
	return r.File.Decrypt(ct)
}
