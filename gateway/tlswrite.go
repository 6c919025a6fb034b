package gateway

import "crypto/tls"

// Writes under TLS.
//
// crypto/tls seals at most 16 KiB of plaintext per record and writes each
// record with its own Write on the connection below, so a 128 KiB flush
// of the send writer would leave in eight write(2) calls, where in clear
// it leaves in one. tlsOut gathers the records of one large write in a
// pooled buffer and sends them with one write.

// gatherMin is the size of a write above which its records are gathered:
// a write of at most one record needs nothing gathered.
const gatherMin = 16 << 10

// batchSize is the capacity of the pooled gather buffers: a send writer's
// flush, sealed (each record adds a header, a tag and a type octet).
const batchSize = sendBufferSize + sendBufferSize/gatherMin*32 + 64

// tlsWire is the connection under a TLS session: while batch is set,
// what crypto/tls writes is appended to it instead of sent.
type tlsWire struct {
	*blockConn
	batch *[]byte
}

// Write sends p, or gathers it while a batch is open.
func (w *tlsWire) Write(p []byte) (int, error) {
	if w.batch != nil {
		*w.batch = append(*w.batch, p...)
		return len(p), nil
	}
	return w.blockConn.Write(p)
}

// tlsOut is what a TLS session's writers write to.
type tlsOut struct {
	tc   *tls.Conn
	wire *tlsWire
	srv  *Server
}

// Write writes p through TLS; the records of a large p leave together.
func (o *tlsOut) Write(p []byte) (int, error) {
	if len(p) <= gatherMin {
		return o.tc.Write(p)
	}
	b := o.srv.getBatch()
	o.wire.batch = b
	n, err := o.tc.Write(p)
	o.wire.batch = nil
	if len(*b) > 0 {
		if _, werr := o.wire.blockConn.Write(*b); err == nil {
			err = werr
		}
	}
	o.srv.putBatch(b)
	return n, err
}

// getBatch returns an empty gather buffer from the server's pool.
func (s *Server) getBatch() *[]byte {
	if b, ok := s.batchPool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, batchSize)
	return &b
}

// putBatch returns b to the pool.
func (s *Server) putBatch(b *[]byte) {
	*b = (*b)[:0]
	s.batchPool.Put(b)
}
