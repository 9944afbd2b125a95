package sdk

import "unsafe"

// bytesString returns a string sharing b's memory, for buffers the host
// just handed over and nothing else holds.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
