// Package web is the browser client, embedded in the binary and served at
// "/". The pages are plain ES modules: no build step, no Node.js needed.
package web
