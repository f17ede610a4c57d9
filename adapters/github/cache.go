package github

import (
	"container/list"
	"net/http"
	"sync"
)

// etagCache keeps the last 200 answer of GETs that carried an ETag, per URL and Accept
// header, so that a repeated read can be revalidated with If-None-Match: GitHub answers 304
// without a body and without counting it against the primary rate limit. It is a small
// LRU bounded by entries and bytes, so an idle adapter stays small.
type etagCache struct {
	maxEntries int
	maxBytes   int // total body bytes
	maxEntry   int // a bigger body is not cached

	mu    sync.Mutex
	order *list.List // front = most recently used; values are *cacheEntry
	byKey map[string]*list.Element
	bytes int
}

type cacheEntry struct {
	key    string
	etag   string
	header http.Header
	body   []byte
}

func newETagCache(maxEntries, maxBytes, maxEntry int) *etagCache {
	return &etagCache{maxEntries: maxEntries, maxBytes: maxBytes, maxEntry: maxEntry, order: list.New(),
		byKey: map[string]*list.Element{}}
}

func cacheKey(r *http.Request) string {
	return r.URL.String() + "\x00" + r.Header.Get("Accept")
}

// get returns the entry for key, marking it recently used.
func (c *etagCache) get(key string) *cacheEntry {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry)
}

// put stores an answer, evicting the least recently used entries to stay in bounds.
func (c *etagCache) put(key, etag string, header http.Header, body []byte) {
	if c == nil || len(body) > c.maxEntry || etag == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.bytes -= len(el.Value.(*cacheEntry).body)
		c.order.Remove(el)
		delete(c.byKey, key)
	}
	e := &cacheEntry{key: key, etag: etag, header: header.Clone(), body: body}
	c.byKey[key] = c.order.PushFront(e)
	c.bytes += len(body)
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		last := c.order.Back()
		old := last.Value.(*cacheEntry)
		c.bytes -= len(old.body)
		c.order.Remove(last)
		delete(c.byKey, old.key)
	}
}

// len reports the number of entries (tests).
func (c *etagCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
