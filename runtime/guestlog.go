package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"sync"
	"time"
)

// guestLine logs one proxy_log line at the mapped level.
func (p *Plugin) guestLine(level int, msg string, ctxID uint32) {
	lvl := slog.LevelInfo
	switch level {
	case 0, 1:
		lvl = slog.LevelDebug
	case 3:
		lvl = slog.LevelWarn
	case 4, 5:
		lvl = slog.LevelError
	}
	if len(msg) > 4096 {
		msg = msg[:4096] + "…"
	}
	if lvl >= slog.LevelError {
		m := msg
		if len(m) > 512 {
			m = m[:512]
		}
		p.guestErr.Store(&m)
	}
	if p.log.Enabled(context.Background(), lvl) {
		p.log.Log(context.Background(), lvl, msg, "source", "filter", "context_id", ctxID)
	}
}

// guestLog turns the guest's stdout (INFO) and stderr (ERROR) into log
// lines, as the ABI asks.
type guestLog struct{ p *Plugin }

func (g *guestLog) stream(stderr bool) io.Writer {
	level := 2
	if stderr {
		level = 4
	}
	return &lineWriter{emit: func(line string) { g.p.guestLine(level, line, 0) }}
}

// lineWriter buffers writes and emits complete lines, at most 4 KiB each.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 4096 {
		w.emit(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(b), nil
}

// cryptoRand is the guest's random source.
type cryptoRand struct{}

func (cryptoRand) Read(b []byte) (int, error) { return rand.Read(b) }

// setTick starts, changes or stops the root context's timer.
func (in *instance) setTick(d time.Duration) {
	in.tickPeriod = d
	if in.tickStop != nil {
		close(in.tickStop)
		in.tickStop = nil
	}
	if d <= 0 || in.fns.tick == nil {
		return
	}
	d = max(d, time.Millisecond)
	stop := make(chan struct{})
	in.tickStop = stop
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			in.mu.Lock()
			if in.dead.Load() || in.closed {
				in.mu.Unlock()
				return
			}
			prev := in.cur
			in.setEffective(nil)
			in.stack[0] = uint64(in.rootID)
			_, _ = in.call("proxy_on_tick", in.fns.tick, 1)
			in.setEffective(prev)
			in.mu.Unlock()
		}
	}()
}
