package runtime

import (
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// epoch is the zero of the monotonic clock call starts are measured on.
var epoch = time.Now()

func monotonic() int64 { return int64(time.Since(epoch)) }

// exitDeadline is the exit code an instance is closed with when a call
// overruns its deadline.
const exitDeadline = sys.ExitCodeDeadlineExceeded

// watchdog enforces the per-call deadline with one goroutine for the whole
// engine, so a guest call costs two atomic stores rather than a timer.
type watchdog struct {
	every time.Duration
	mu    sync.Mutex
	set   map[*instance]struct{}
	quit  chan struct{}
	once  sync.Once
}

func newWatchdog(every time.Duration) *watchdog {
	w := &watchdog{every: every, set: make(map[*instance]struct{}), quit: make(chan struct{})}
	go w.loop()
	return w
}

func (w *watchdog) add(in *instance) {
	w.mu.Lock()
	w.set[in] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) remove(in *instance) {
	w.mu.Lock()
	delete(w.set, in)
	w.mu.Unlock()
}

func (w *watchdog) stop() { w.once.Do(func() { close(w.quit) }) }

func (w *watchdog) loop() {
	t := time.NewTicker(w.every)
	defer t.Stop()
	var late []*instance
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
		now := monotonic()
		late = late[:0]
		w.mu.Lock()
		for in := range w.set {
			if start := in.callStart.Load(); start != 0 && now-start > int64(in.callLimit.Load()) {
				late = append(late, in)
			}
		}
		w.mu.Unlock()
		for _, in := range late {
			// Closing the module makes the running code stop at its next
			// function entry or loop header with an ExitError.
			in.timedOut.Store(true)
			_ = in.mod.CloseWithExitCode(context.Background(), exitDeadline)
		}
	}
}
