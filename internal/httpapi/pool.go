package httpapi

import (
	"bytes"
	"sync"
)

// maxPooledBuffer keeps one unusually large request from pinning its buffer
// in the pool for the life of the process.
const maxPooledBuffer = 4 << 20

type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) get() *bytes.Buffer {
	if b, ok := bp.p.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (bp *bufferPool) put(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	bp.p.Put(b)
}
