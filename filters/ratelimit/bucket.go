package main

import (
	"encoding/binary"
	"time"
)

// limiter is a token bucket in its GCRA form (the generic cell rate
// algorithm): the whole state of a bucket is one time, its theoretical
// arrival time (tat). A bucket holding burst tokens refilled at one token
// per interval is empty exactly when tat is burst intervals ahead of now;
// a request takes a token by moving tat one interval on. A state in the
// past is a full bucket, so buckets need no refill step and idle ones no
// clean-up to stay correct.
type limiter struct {
	interval int64 // nanoseconds per token
	tau      int64 // interval × burst: how far tat may run ahead of now
	burst    int64
}

// decision is the outcome of one request on a bucket.
type decision struct {
	allowed   bool
	tat       int64         // the state to store when allowed
	remaining int64         // tokens left after this request
	retry     time.Duration // when denied: until a token is back
}

// take decides a request at now (Unix nanoseconds) on a bucket whose state
// is tat (zero: a new bucket).
func (l *limiter) take(tat, now int64) decision {
	tat = max(tat, now)
	next := tat + l.interval
	ahead := next - now
	if ahead > l.tau {
		return decision{retry: time.Duration(ahead - l.tau)}
	}
	return decision{allowed: true, tat: next, remaining: (l.tau - ahead) / l.interval}
}

// The stored form of a bucket: tat as 8 bytes little-endian.
const stateSize = 8

func encodeState(dst []byte, tat int64) []byte {
	return binary.LittleEndian.AppendUint64(dst, uint64(tat))
}

// decodeState reads a stored bucket; anything not of the right size is a
// new bucket.
func decodeState(b []byte) int64 {
	if len(b) != stateSize {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(b))
}

// retryAfterSeconds is the Retry-After value of d: whole seconds, rounded
// up, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}
