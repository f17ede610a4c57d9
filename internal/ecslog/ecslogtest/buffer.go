// Package ecslogtest helps tests read the log lines a component writes.
package ecslogtest

import (
	"bytes"
	"sync"
)

// Buffer collects log lines from concurrent writers (a server's goroutines and the test).
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
