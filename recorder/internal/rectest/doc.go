// Package rectest is the test harness of the recorder's sibling packages
// (export, api, attachments): the three databases every suite runs on, and
// helpers that write chat changes through the real writer. The recorder's
// own tests have theirs in package recorder (they also inject faults).
package rectest
