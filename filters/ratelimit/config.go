package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
)

// config is the filter's JSON configuration. Zero values take the defaults
// documented on each field.
type config struct {
	// Rate is the number of tokens added to a bucket per Period; more
	// than zero, fractions allowed.
	Rate float64 `json:"rate"`
	// Period is a Go duration ("1s", "1m", "1h"). Default "1s".
	Period string `json:"period"`
	// Burst is the bucket's size: the most requests allowed at once.
	// Default: Rate rounded up, at least 1.
	Burst int64 `json:"burst"`
	// Key says what a bucket belongs to. Default: the client IP.
	Key keyConfig `json:"key"`
	// Status is the status of a request over the limit (400-599).
	// Default 429.
	Status int `json:"status"`
	// ResponseHeaders adds X-RateLimit-Limit and X-RateLimit-Remaining to
	// allowed responses too (denied ones always carry them).
	ResponseHeaders bool `json:"response_headers"`
	// Bucket names the set of buckets: filters of one tenant with the same
	// bucket name share their counters. Default: the filter's name.
	Bucket string `json:"bucket"`
	// OnFull is what a request gets when the host's shared data refuses
	// to store its bucket (it is full): "deny" (default: the configured
	// status, Retry-After: 1) or "allow" (not limited). Either way a
	// warning is logged, at most once a minute per instance.
	OnFull string `json:"on_full"`
}

// keyConfig says where a request's bucket key comes from.
type keyConfig struct {
	// Source is "ip" (default: the client address, without its port) or
	// "header".
	Source string `json:"source"`
	// Header is the request header whose value is the key, for source
	// "header".
	Header string `json:"header"`
	// Missing is what a request without the header gets: "ip" (default:
	// the client IP is its key), "deny" (400) or "allow" (not limited).
	Missing string `json:"missing"`
}

// What a request without a key gets.
const (
	missingIP = iota
	missingDeny
	missingAllow
)

const (
	defaultStatus = 429
	// maxInterval bounds the time per token (a week): beyond it the
	// configuration is a mistake.
	maxInterval = 7 * 24 * time.Hour
)

// compile validates c and builds the plugin. Every problem is reported,
// each with its field path.
func (c *config) compile() (*plugin, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("ratelimit: config: "+format, args...))
	}
	p := &plugin{status: c.Status, responseHeaders: c.ResponseHeaders}

	period := time.Second
	if c.Period != "" {
		d, err := time.ParseDuration(c.Period)
		switch {
		case err != nil:
			bad("period: %q: want a duration such as \"1s\" or \"1m\"", c.Period)
		case d <= 0:
			bad("period: %q: want more than zero", c.Period)
		default:
			period = d
		}
	}
	if math.IsNaN(c.Rate) || c.Rate <= 0 || math.IsInf(c.Rate, 0) {
		bad("rate: %v: want a number of tokens per period above zero", c.Rate)
	} else {
		interval := float64(period) / c.Rate
		switch {
		case interval < 1:
			bad("rate: %v per %v is more than one token per nanosecond", c.Rate, period)
		case interval > float64(maxInterval):
			bad("rate: %v per %v is less than one token per %v", c.Rate, period, maxInterval)
		default:
			p.lim.interval = int64(interval)
		}
	}
	p.lim.burst = c.Burst
	switch {
	case c.Burst < 0:
		bad("burst: %d: want at least 1", c.Burst)
	case c.Burst == 0 && c.Rate > 0:
		p.lim.burst = max(1, int64(math.Ceil(c.Rate)))
	}
	if p.lim.interval > 0 && p.lim.burst > 0 {
		if p.lim.burst > math.MaxInt64/4/p.lim.interval {
			bad("burst: %d tokens of %v each do not fit in a bucket", p.lim.burst, time.Duration(p.lim.interval))
		}
		p.lim.tau = p.lim.interval * p.lim.burst
	}

	switch c.Key.Source {
	case "", "ip":
		p.fromHeader = false
		if c.Key.Header != "" {
			bad("key.header: only for source \"header\"")
		}
		if c.Key.Missing != "" {
			bad("key.missing: only for source \"header\"")
		}
	case "header":
		p.fromHeader = true
		p.header = strings.ToLower(c.Key.Header)
		if err := checkHeaderName(p.header); err != nil {
			bad("key.header: %v", err)
		}
	default:
		bad("key.source: %q: want \"ip\" or \"header\"", c.Key.Source)
	}
	switch c.Key.Missing {
	case "", "ip":
		p.missing = missingIP
	case "deny":
		p.missing = missingDeny
	case "allow":
		p.missing = missingAllow
	default:
		bad("key.missing: %q: want \"ip\", \"deny\" or \"allow\"", c.Key.Missing)
	}

	switch c.OnFull {
	case "", "deny":
		p.denyFull = true
	case "allow":
	default:
		bad("on_full: %q: want \"deny\" or \"allow\"", c.OnFull)
	}
	if p.status == 0 {
		p.status = defaultStatus
	}
	if p.status < 400 || p.status > 599 {
		bad("status: %d: want a 4xx or 5xx status", c.Status)
	}
	if strings.ContainsRune(c.Bucket, 0) {
		bad("bucket: must not contain NUL")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	bucket := c.Bucket
	if bucket == "" {
		// Wedge gives the route filter's name; other hosts may not.
		if name, err := sdk.PropertyString("plugin_name"); err == nil && name != "" {
			bucket = name
		} else {
			bucket = "ratelimit"
		}
	}
	p.prefix = "ratelimit\x00" + bucket + "\x00"
	p.limit = strconv.FormatInt(p.lim.burst, 10)
	if p.fromHeader {
		p.missingBody = []byte("missing " + p.header + " header\n")
	}
	return p, nil
}

// checkHeaderName accepts a lower-case RFC 9110 field name that is not a
// pseudo-header.
func checkHeaderName(name string) error {
	if name == "" {
		return errors.New("empty header name: give the header the key comes from")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !sdk.IsTokenChar(c) {
			return fmt.Errorf("%q: byte %q at %d is not allowed in a header name", name, c, i)
		}
	}
	return nil
}
