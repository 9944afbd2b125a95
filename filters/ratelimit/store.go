package main

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
)

// Buckets are kept in a fixed set of shared data keys, the slots: a
// bucket's key (the client IP or header value) is hashed to one of slots
// slots, and a slot's value holds up to slotEntries buckets. So a bucket
// set never holds more than slots keys of the host's shared data, however
// many clients come and go: Proxy-Wasm 0.2.1 cannot delete shared data, and
// one key per client filled the host's store for good.
//
// A bucket whose state (its theoretical arrival time) is not in the future
// is a full bucket, as good as absent: whenever a slot is written, such
// buckets are dropped. When a slot holds slotEntries buckets still in use
// and a new one is needed, the one closest to full (the earliest state) is
// dropped to make room: its client starts again from a full bucket, the
// smallest loss the limit can take, and the most indebted clients are the
// last to be forgotten.
const (
	slots       = 1024
	slotEntries = 32
	idSize      = 16 // bytes of a bucket's id: the first of the SHA-256 of its key
	entrySize   = idSize + stateSize
)

// bucketID identifies a bucket within its slot.
type bucketID [idSize]byte

// locate returns the slot key, the slot's number and the id of the bucket
// of the set prefix whose key (what it belongs to, such as
// "ip\x00192.0.2.1") is material.
func locate(prefix string, material []byte) (slotKey string, id bucketID, slot int) {
	sum := sha256.Sum256(material)
	copy(id[:], sum[:idSize])
	slot = int(binary.BigEndian.Uint16(sum[idSize:]) % slots)
	return prefix + "slot\x00" + strconv.Itoa(slot), id, slot
}

// entry is one bucket of a slot.
type entry struct {
	id  bucketID
	tat int64
}

// decodeSlot appends the buckets of a stored slot to dst. A value not made
// of whole entries is an empty slot.
func decodeSlot(dst []entry, b []byte) []entry {
	if len(b)%entrySize != 0 {
		return dst
	}
	for ; len(b) > 0; b = b[entrySize:] {
		var e entry
		copy(e.id[:], b)
		e.tat = decodeState(b[idSize:entrySize])
		dst = append(dst, e)
	}
	return dst
}

func encodeSlot(dst []byte, es []entry) []byte {
	for _, e := range es {
		dst = append(dst, e.id[:]...)
		dst = encodeState(dst, e.tat)
	}
	return dst
}

// update returns the slot's buckets after bucket id takes the state tat at
// now: the buckets still in use (state after now) and id's, in their
// order, with id's last. evicted reports that a bucket in use was dropped
// to make room.
func update(es []entry, id bucketID, tat, now int64) (out []entry, evicted bool) {
	out = es[:0]
	for _, e := range es {
		if e.id != id && e.tat > now {
			out = append(out, e)
		}
	}
	if len(out) >= slotEntries {
		// Drop the bucket closest to full, until there is room.
		evicted = true
		for len(out) >= slotEntries {
			min := 0
			for i, e := range out {
				if e.tat < out[min].tat {
					min = i
				}
			}
			out = append(out[:min], out[min+1:]...)
		}
	}
	return append(out, entry{id: id, tat: tat}), evicted
}

// stateOf returns the state of bucket id in es; 0 (a new bucket) if absent.
func stateOf(es []entry, id bucketID) int64 {
	for _, e := range es {
		if e.id == id {
			return e.tat
		}
	}
	return 0
}
