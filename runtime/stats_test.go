package runtime

import (
	"context"
	"errors"
	"testing"
)

// TestStats: what an engine holds comes back down once plugins close
// and their streams end.
func TestStats(t *testing.T) {
	e := newTestEngine(t)
	if st := e.Stats(); st != (Stats{}) {
		t.Fatalf("a new engine holds %+v", st)
	}
	ctx := context.Background()
	m, err := e.Compile(ctx, readBuilt(t, "wat", "add_header"))
	if err != nil {
		t.Fatal(err)
	}
	p1, err := e.NewPlugin(ctx, m, PluginConfig{Name: "a", Limits: Limits{Instances: 2}})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := e.NewPlugin(ctx, m, PluginConfig{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Modules != 1 || st.Plugins != 2 || st.Instances != 2 {
		t.Fatalf("two plugins of one module: %+v", st)
	}
	// A stream open on a closed plugin keeps its instance until it ends.
	s, err := p1.NewStream(ctx, newTestHost())
	if err != nil {
		t.Fatal(err)
	}
	p1.Close(ctx)
	if st := e.Stats(); st.Plugins != 1 || st.Instances != 2 {
		t.Fatalf("closed plugin with a stream in flight: %+v", st)
	}
	s.Close()
	p2.Close(ctx)
	if st := e.Stats(); st.Plugins != 0 || st.Instances != 0 || st.Modules != 1 {
		t.Fatalf("after both closed: %+v (the caller still holds the module)", st)
	}
	m.Close(ctx)
	if st := e.Stats(); st != (Stats{}) {
		t.Fatalf("after the module's release: %+v", st)
	}
}

// TestNewStreamAfterClose: a stream asked of a closed plugin is refused
// as Unavailable. Regression: acquire read len(p.slots) before taking the
// lock, and Close empties slots, so a request racing a snapshot swap
// panicked with an integer divide by zero (found by make soak).
func TestNewStreamAfterClose(t *testing.T) {
	e := newTestEngine(t)
	ctx := context.Background()
	m, err := e.Compile(ctx, readBuilt(t, "wat", "add_header"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)
	s, err := p.NewStream(ctx, newTestHost())
	var fe *FilterError
	if !errors.As(err, &fe) || fe.Kind != Unavailable {
		if s != nil {
			s.Close()
		}
		t.Fatalf("NewStream on a closed plugin: %v, want an Unavailable FilterError", err)
	}
}
