package export

// The SQLite export reads ahead, on two connections at once. Building
// each message's blob in SQLite's C code is most of what a row costs, and
// on one connection every call takes that connection's lock, so the
// messages are read in chunks of consecutive seqs, alternately by two
// goroutines, each on its own connection, while the caller's goroutine
// parses the rows and writes their CSV, chunk after chunk, in order. Rows
// travel in a few recycled batches per reader, so memory stays constant
// however long the meeting. The readers talk to the driver directly
// (their connections are theirs for the export): database/sql's locks
// and conversions were a sixth of a reader's time.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
)

// readAheadChunk is the seqs per query (a variable for the tests).
var readAheadChunk int64 = 1024

const (
	readAheadRows    = 512       // rows per batch
	readAheadBytes   = 256 << 10 // a batch ends at whichever comes first, or with its chunk
	readAheadBatches = 4         // per reader: enough to hold a chunk ahead of the writer
)

// blobBatch holds consecutive rows: row i is buf[ends[i-1]:ends[i]] (from
// 0 for the first). last marks the end of a chunk.
type blobBatch struct {
	buf  []byte
	ends []int
	last bool
}

func (b *blobBatch) row(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.buf[start:b.ends[i]:b.ends[i]]
}

// chunkReader reads every len(readers)-th chunk on its own connection.
type chunkReader struct {
	full, free chan *blobBatch
	err        error // set before full is closed
}

// readAhead calls fn with each row of query for seqs lo to hi, in order.
// query selects one column (read as bytes) and takes the scope value
// (?1) and a chunk's seqs, from ?2 to before ?3. conns are the readers'
// connections (one snapshot: sqliteSnapshot). A row is valid until fn
// returns. It returns fn's error or a reader's; either way every reader
// has stopped when it returns.
func readAhead(ctx context.Context, conns []*sql.Conn, query string, scope any, lo, hi int64, fn func(row []byte) error) error {
	stop := make(chan struct{})
	readers := make([]*chunkReader, len(conns))
	for i, c := range conns {
		r := &chunkReader{full: make(chan *blobBatch, readAheadBatches), free: make(chan *blobBatch, readAheadBatches)}
		for range readAheadBatches {
			r.free <- &blobBatch{}
		}
		readers[i] = r
		go r.run(ctx, c, query, scope, lo+int64(i)*readAheadChunk, hi, int64(len(conns))*readAheadChunk, stop)
	}
	var err error
chunks:
	for k := 0; lo+int64(k)*readAheadChunk <= hi; k++ {
		r := readers[k%len(readers)]
		for {
			b, ok := <-r.full
			if !ok { // the reader failed (or ended early)
				if err = r.err; err == nil {
					err = fmt.Errorf("export: a reader stopped before chunk %d", k)
				}
				break chunks
			}
			for i := 0; i < len(b.ends) && err == nil; i++ {
				err = fn(b.row(i))
			}
			if err != nil {
				break chunks
			}
			last := b.last
			r.free <- b
			if last {
				break
			}
		}
	}
	close(stop)
	for _, r := range readers { // wait for every reader to stop
		for range r.full {
		}
	}
	if err == nil {
		for _, r := range readers {
			if err = r.err; err != nil {
				break
			}
		}
	}
	return err
}

// run reads the chunks starting at from, from+step, … up to hi.
func (r *chunkReader) run(ctx context.Context, conn *sql.Conn, query string, scope any, from, hi, step int64, stop chan struct{}) {
	defer close(r.full)
	var b *blobBatch
	take := func() bool {
		select {
		case b = <-r.free:
			b.buf, b.ends, b.last = b.buf[:0], b.ends[:0], false
			return true
		case <-stop:
			return false
		}
	}
	send := func() bool {
		select {
		case r.full <- b:
			return take()
		case <-stop:
			return false
		}
	}
	if !take() {
		return
	}
	r.err = conn.Raw(func(dc any) error {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("export: the driver's %T cannot prepare", dc)
		}
		st, err := pc.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		defer st.Close()
		sq, ok := st.(driver.StmtQueryContext)
		if !ok {
			return fmt.Errorf("export: the driver's %T cannot query", st)
		}
		dest := make([]driver.Value, 1)
		for ; from <= hi; from += step {
			rows, err := sq.QueryContext(ctx, []driver.NamedValue{
				{Ordinal: 1, Value: scope}, {Ordinal: 2, Value: from}, {Ordinal: 3, Value: from + readAheadChunk}})
			if err != nil {
				return err
			}
			for {
				if err = rows.Next(dest); err != nil {
					break
				}
				switch v := dest[0].(type) {
				case []byte:
					b.buf = append(b.buf, v...)
				case string:
					b.buf = append(b.buf, v...)
				case nil:
				default:
					err = fmt.Errorf("export: a row of type %T", v)
				}
				if err != nil {
					break
				}
				b.ends = append(b.ends, len(b.buf))
				if (len(b.ends) >= readAheadRows || len(b.buf) >= readAheadBytes) && !send() {
					_ = rows.Close()
					return nil
				}
			}
			_ = rows.Close()
			if err != io.EOF {
				return err
			}
			b.last = true
			if !send() {
				return nil
			}
		}
		return nil
	})
}
