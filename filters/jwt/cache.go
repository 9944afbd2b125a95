package main

import "strings"

// cacheEntries bounds the verified tokens a plugin remembers.
const cacheEntries = 1024

// maxCachedToken is the longest token remembered: longer ones are
// verified on every request, so the cache holds at most about
// cacheEntries × maxCachedToken bytes of tokens.
const maxCachedToken = 2 << 10

// cache remembers verified tokens, so a client that sends the same token
// again costs a map lookup instead of a signature check (an RS256 check
// takes milliseconds in WebAssembly). It holds only tokens that passed
// every check but the time ones, which are made on every use; it is keyed
// by the whole token, so a hit is the very token that was verified. When
// full, an arbitrary entry makes room.
type cache struct {
	m   map[string]*result
	max int
}

func newCache(max int) cache { return cache{m: make(map[string]*result), max: max} }

func (c *cache) get(tok string) *result { return c.m[tok] }

func (c *cache) remove(tok string) { delete(c.m, tok) }

func (c *cache) put(tok string, r *result) {
	if len(tok) > maxCachedToken || c.max <= 0 {
		return
	}
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	// The token may share memory with the host's buffer: keep a copy.
	c.m[strings.Clone(tok)] = r
}
