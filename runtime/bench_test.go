package runtime

import (
	"bufio"
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// headersConfig is the headers filter's configuration in the benchmarks.
const headersConfig = `{"request":{"set":{"x-from-filter":"yes"}},"response":{"set":{"x-filtered":"1"}}}`

// BenchmarkHeadersFilterLifecycle is one HTTP request's whole life through
// the headers filter: context create, request headers, response headers,
// the response body's last chunk, done, log and delete.
func BenchmarkHeadersFilterLifecycle(b *testing.B) {
	e := newTestEngine(b)
	p := startPlugin(b, e, "filters", "headers", PluginConfig{Config: []byte(headersConfig), Limits: Limits{Instances: 1}})
	ctx := context.Background()
	h := newTestHost([2]string{":method", "GET"}, [2]string{":path", "/x"}, [2]string{":authority", "site.test"}, [2]string{"accept", "*/*"})
	body := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		*h.req = (*h.req)[:4]
		h.setResponse([2]string{":status", "200"}, [2]string{"content-length", "1024"})
		s, err := p.NewStream(ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		if r, err := s.RequestHeaders(ctx, true); err != nil || r != Continue {
			b.Fatal(r, err)
		}
		if r, err := s.ResponseHeaders(ctx, false); err != nil || r != Continue {
			b.Fatal(r, err)
		}
		if _, r, err := s.ResponseBody(ctx, body, true); err != nil || r != Continue {
			b.Fatal(r, err)
		}
		s.Close()
	}
	if header(h.req, "x-from-filter") != "yes" || header(h.resp, "x-filtered") != "1" {
		b.Fatalf("filter did not act: %v %v", *h.req, *h.resp)
	}
}

// BenchmarkInstantiateGoFilter is one new instance of a standard-Go filter
// (the headers filter) made ready: instantiated from the module's
// snapshot, root context created, on_vm_start and on_configure run. The
// metrics are the instance's memory: its linear memory size, and what it
// holds privately (dirty pages) right after start.
func BenchmarkInstantiateGoFilter(b *testing.B) {
	e := newTestEngine(b)
	p := startPlugin(b, e, "filters", "headers", PluginConfig{Config: []byte(headersConfig)})
	ctx := context.Background()
	var made []*instance
	var size, rss, dirty int
	closeAll := func() {
		last := made[len(made)-1]
		size = int(last.mem.Size())
		rss, dirty = mappingKiB(b, last.lin.buf)
		for _, in := range made {
			in.mu.Lock()
			in.closeLocked()
			in.mu.Unlock()
		}
		made = made[:0]
	}
	goruntime.GC() // compiling left garbage; do not bill its collection here
	b.ReportAllocs()
	for b.Loop() {
		in, err := p.newInstance(ctx)
		if err != nil {
			b.Fatal(err)
		}
		made = append(made, in)
		if len(made) == 200 { // bound what the benchmark holds
			b.StopTimer()
			closeAll()
			b.StartTimer()
		}
	}
	b.StopTimer()
	if len(made) > 0 {
		closeAll()
	}
	b.ReportMetric(float64(size)/(1<<20), "linear-MiB")
	b.ReportMetric(float64(rss)/1024, "rss-MiB")
	b.ReportMetric(float64(dirty)/1024, "private-dirty-MiB")
}

// BenchmarkCompileGoFilter compiles the headers filter from nothing.
func BenchmarkCompileGoFilter(b *testing.B) {
	bin := readBuilt(b, "filters", "headers")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e, err := NewEngine(ctx, Config{})
		if err != nil {
			b.Fatal(err)
		}
		m, err := e.Compile(ctx, bin)
		if err != nil {
			b.Fatal(err)
		}
		m.Close(ctx)
		e.Close(ctx)
	}
}

// BenchmarkCompileGoFilterCached compiles it with a warm compilation cache
// on disk, as a node does after a restart.
func BenchmarkCompileGoFilterCached(b *testing.B) {
	bin := readBuilt(b, "filters", "headers")
	dir := b.TempDir()
	ctx := context.Background()
	warm, err := NewEngine(ctx, Config{CacheDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := warm.Compile(ctx, bin); err != nil {
		b.Fatal(err)
	}
	warm.Close(ctx)
	b.ReportAllocs()
	for b.Loop() {
		e, err := NewEngine(ctx, Config{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		m, err := e.Compile(ctx, bin)
		if err != nil {
			b.Fatal(err)
		}
		m.Close(ctx)
		e.Close(ctx)
	}
}

// mappingKiB returns the Rss and Private_Dirty of the mapping that starts
// at buf, from /proc/self/smaps (Linux), summed over its pieces.
func mappingKiB(tb testing.TB, buf []byte) (rss, dirty int) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		tb.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	lo := uintptr(unsafe.Pointer(&buf[0]))
	hi := lo + uintptr(cap(buf))
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '-'); i > 0 && strings.Contains(line[:i+1], "-") && !strings.Contains(line, ":") || isRange(line) {
			var a, z uintptr
			fmt.Sscanf(line, "%x-%x", &a, &z)
			in = a >= lo && z <= hi
			continue
		}
		if !in {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "Rss:":
			rss += n
		case "Private_Dirty:":
			dirty += n
		}
	}
	return rss, dirty
}

func isRange(line string) bool {
	f := strings.Fields(line)
	return len(f) > 0 && strings.Count(f[0], "-") == 1 && !strings.HasSuffix(f[0], ":")
}

// BenchmarkGoFilterInstanceMemory reports what one instance of a
// standard-Go filter (headers) holds once it has served requests: its
// linear memory size, its resident pages (shared with the snapshot file
// until written) and its private dirty pages, from /proc/self/smaps; and
// the host-side Go heap an instance adds.
func BenchmarkGoFilterInstanceMemory(b *testing.B) {
	e := newTestEngine(b)
	ctx := context.Background()
	var size, rss, dirty int
	var heap uint64
	for b.Loop() {
		b.StopTimer()
		goruntime.GC()
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		b.StartTimer()
		p := startPlugin(b, e, "filters", "headers", PluginConfig{Config: []byte(headersConfig), Limits: Limits{Instances: 1}})
		h := newTestHost([2]string{":method", "GET"}, [2]string{":path", "/x"})
		for range 100 {
			h.setResponse([2]string{":status", "200"})
			s, err := p.NewStream(ctx, h)
			if err != nil {
				b.Fatal(err)
			}
			s.RequestHeaders(ctx, true)
			s.ResponseHeaders(ctx, false)
			s.ResponseBody(ctx, []byte("body"), true)
			s.Close()
		}
		b.StopTimer()
		goruntime.GC()
		goruntime.ReadMemStats(&after)
		in := p.slots[0]
		size = int(in.mem.Size())
		rss, dirty = mappingKiB(b, in.lin.buf)
		heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
		p.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/(1<<20), "linear-MiB")
	b.ReportMetric(float64(rss)/1024, "rss-MiB")
	b.ReportMetric(float64(dirty)/1024, "private-dirty-MiB")
	b.ReportMetric(float64(heap)/(1<<20), "host-heap-MiB")
}
