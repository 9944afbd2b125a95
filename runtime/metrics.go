package runtime

import (
	"sync"
	"sync/atomic"
)

// MetricType is a Proxy-Wasm metric type.
type MetricType uint32

// Metric types (proxy_metric_type_t).
const (
	Counter   MetricType = 0
	Gauge     MetricType = 1
	Histogram MetricType = 2
)

// maxMetrics bounds the metrics one plugin may define.
const maxMetrics = 1000

// Metric is one value a plugin defined, as read by Plugin.Metrics. For a
// histogram, Value is the sum of recorded values and Count their number.
type Metric struct {
	Name  string
	Type  MetricType
	Value int64
	Count int64
}

type metric struct {
	name  string
	typ   MetricType
	value atomic.Int64
	count atomic.Int64
}

// metricSet is a plugin's metrics, shared by its instances: a metric
// defined by two instances under one name is one metric.
type metricSet struct {
	mu   sync.RWMutex
	list []*metric
}

func (ms *metricSet) define(t MetricType, name string) (uint32, status) {
	if t > Histogram {
		return 0, statusBadArgument
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for i, m := range ms.list {
		if m.name == name && m.typ == t {
			return uint32(i + 1), statusOK
		}
	}
	if len(ms.list) >= maxMetrics {
		return 0, statusInternalFailure
	}
	ms.list = append(ms.list, &metric{name: name, typ: t})
	return uint32(len(ms.list)), statusOK
}

func (ms *metricSet) lookup(id uint32) *metric {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	if id == 0 || int(id) > len(ms.list) {
		return nil
	}
	return ms.list[id-1]
}

func (ms *metricSet) increment(id uint32, delta int64) status {
	m := ms.lookup(id)
	if m == nil {
		return statusNotFound
	}
	switch m.typ {
	case Counter:
		if delta < 0 {
			return statusBadArgument
		}
	case Histogram:
		return statusBadArgument
	}
	m.value.Add(delta)
	return statusOK
}

func (ms *metricSet) record(id uint32, v uint64) status {
	m := ms.lookup(id)
	if m == nil {
		return statusNotFound
	}
	if m.typ == Histogram {
		m.value.Add(int64(v))
		m.count.Add(1)
		return statusOK
	}
	m.value.Store(int64(v))
	return statusOK
}

func (ms *metricSet) get(id uint32) (uint64, status) {
	m := ms.lookup(id)
	if m == nil {
		return 0, statusNotFound
	}
	return uint64(m.value.Load()), statusOK
}

// Metrics returns the plugin's metrics and their current values.
func (p *Plugin) Metrics() []Metric {
	p.metrics.mu.RLock()
	defer p.metrics.mu.RUnlock()
	out := make([]Metric, len(p.metrics.list))
	for i, m := range p.metrics.list {
		out[i] = Metric{Name: m.name, Type: m.typ, Value: m.value.Load(), Count: m.count.Load()}
	}
	return out
}
