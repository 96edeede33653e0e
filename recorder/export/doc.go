// Package export streams a session's or a meeting's chat as the
// chat-replay CSV (RealtimeKit's ten columns first, ours after), in
// constant memory however long the meeting. Exporter.WriteCSV is the one
// entry point; the HTTP download (recorder/api) and `backchannel export`
// call it.
//
// Its target is a 1,000,000-message session at 500,000 rows/s or more with
// the exporting process's peak RSS under 64 MiB (BenchmarkExport1M_*, and
// TestSQLite_ExportMemory in `make test`). Each remaining part is there
// for that target:
//   - csv.go merges the message stream with its marks (pins, reactions)
//     and attachments and writes rows through one reused buffer, flushed
//     every csvChunk rows: constant memory, and an export a cancelled
//     request stops between chunks.
//   - csvrow.go encodes cells by appending bytes (no []string per row, no
//     string per cell): per-row allocations were most of the time at this
//     rate. FuzzCSVWriter holds it to encoding/csv's output byte for byte.
//   - source.go reads PostgreSQL through pgx directly: one streaming
//     query for the messages, decoded in place from binary values (the
//     attachment as a record in the same row), the marks on a second
//     connection, both in one exported snapshot. GORM's scanning and a
//     cursor's page stops each cost the target. Exporter.slots caps the
//     exports streaming at once, since each holds connections.
//   - sqlite.go reads each SQLite message as one blob (a call per column
//     and the driver's per-call locking were half the time) from a
//     snapshot shared by three connections.
//   - readahead.go reads the SQLite messages on two of them, in alternate
//     chunks, ahead of the CSV writer, so SQLite's work runs on two CPUs:
//     on one it stays near 360,000 rows/s.
package export
