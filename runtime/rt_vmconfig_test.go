package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestWATVMConfig: rt_vm_config.wat reads VM_CONFIGURATION in
// proxy_on_vm_start (given its size), logs it and echoes it; it refuses
// one starting with "!", so NewPlugin fails naming proxy_on_vm_start.
func TestWATVMConfig(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	m, err := e.Compile(ctx, readBuilt(t, "wat", "rt_vm_config"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	for _, vm := range []string{"", "engine=fast", `{"a":[1,2,3]}`, strings.Repeat("v", 4096)} {
		logs := &logLines{}
		p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "vm", Config: []byte("plugin config"), VMConfig: []byte(vm),
			Limits: Limits{Instances: 1}, Logger: slog.New(logs)})
		if err != nil {
			t.Fatalf("vm_config %.20q: %v", vm, err)
		}
		h := getRequest("/")
		s, err := p.NewStream(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.RequestHeaders(ctx, true); err != nil || r != Continue {
			t.Fatalf("RequestHeaders = %v, %v", r, err)
		}
		if got := header(h.req, "x-vm-config"); got != vm {
			t.Errorf("x-vm-config = %.40q, want %.40q", got, vm)
		}
		// (Long guest log lines are cut short by the host.)
		if line := "vm_config: " + vm[:min(len(vm), 100)]; !logs.has(line) {
			t.Errorf("no log line %.40q in %.200q", line, logs.lines)
		}
		s.Close()
		p.Close(ctx)
	}
	for _, vm := range []string{"!refuse", strings.Repeat("v", 4097)} {
		p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "vm", VMConfig: []byte(vm), Limits: Limits{Instances: 1}})
		if err == nil {
			p.Close(ctx)
			t.Fatalf("vm_config %.20q: NewPlugin accepted what proxy_on_vm_start refuses", vm)
		}
		var fe *FilterError
		if !errors.As(err, &fe) || fe.Kind != Refused || fe.Callback != "proxy_on_vm_start" {
			t.Errorf("vm_config %.20q: error %v, want Refused by proxy_on_vm_start", vm, err)
		}
	}
}
