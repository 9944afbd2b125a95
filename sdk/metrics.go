package sdk

import "github.com/wedgeproxy/wedge/sdk/internal/abi"

// Counter is a host metric that only goes up. Define metrics once, in the
// plugin factory, and keep them in the plugin.
type Counter struct{ id uint32 }

// Gauge is a host metric that is set, or goes up and down.
type Gauge struct{ id uint32 }

// Histogram is a host metric that records a distribution of values.
type Histogram struct{ id uint32 }

func defineMetric(t abi.MetricType, name string) (uint32, error) {
	id, st := host().DefineMetric(t, name)
	return id, check("define metric "+name, st)
}

// NewCounter defines the counter name (defining it again returns the same
// metric).
func NewCounter(name string) (Counter, error) {
	id, err := defineMetric(abi.MetricCounter, name)
	return Counter{id}, err
}

// NewGauge defines the gauge name.
func NewGauge(name string) (Gauge, error) {
	id, err := defineMetric(abi.MetricGauge, name)
	return Gauge{id}, err
}

// NewHistogram defines the histogram name.
func NewHistogram(name string) (Histogram, error) {
	id, err := defineMetric(abi.MetricHistogram, name)
	return Histogram{id}, err
}

// Add adds delta to the counter.
func (c Counter) Add(delta uint64) error {
	return check("increment counter", host().IncrementMetric(c.id, int64(delta)))
}

// Value returns the counter's value.
func (c Counter) Value() (uint64, error) {
	v, st := host().GetMetric(c.id)
	return v, check("get counter", st)
}

// Set sets the gauge to v.
func (g Gauge) Set(v int64) error { return check("set gauge", host().RecordMetric(g.id, uint64(v))) }

// Add adds delta (which may be negative) to the gauge.
func (g Gauge) Add(delta int64) error {
	return check("add to gauge", host().IncrementMetric(g.id, delta))
}

// Value returns the gauge's value.
func (g Gauge) Value() (int64, error) {
	v, st := host().GetMetric(g.id)
	return int64(v), check("get gauge", st)
}

// Record records v in the histogram.
func (h Histogram) Record(v uint64) error {
	return check("record histogram", host().RecordMetric(h.id, v))
}
