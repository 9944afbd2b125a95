package sdk

import (
	"fmt"
	"time"

	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// Now returns the host's current time. Hosts may return an approximation
// (for example the time the callback started); if the host has no clock,
// Now falls back to the WASI clock.
func Now() time.Time {
	ns, st := host().GetCurrentTimeNanoseconds()
	if st != abi.StatusOK {
		return time.Now()
	}
	return time.Unix(0, int64(ns))
}

// SetTickPeriod makes the host call the current plugin's OnTick (see
// Ticker) every d, rounded up to a millisecond; zero stops the timer. Call
// it from the plugin factory or a plugin callback.
func SetTickPeriod(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("sdk: set tick period: negative period %v: %w", d, ErrBadArgument)
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<32-1 {
		return fmt.Errorf("sdk: set tick period: %v is too long: %w", d, ErrBadArgument)
	}
	return check("set tick period", host().SetTickPeriodMilliseconds(uint32(ms)))
}
