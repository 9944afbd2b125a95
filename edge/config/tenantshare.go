package config

// TenantShare is the node's default share of its data plane for each
// tenant: what one tenant may hold at once, so that a flood on one
// tenant's domains cannot starve the others. A tenant's limits may set
// its own (higher or lower); the operator decides both.
type TenantShare struct {
	// MaxConcurrentRequests bounds the requests one tenant has in flight
	// on the node; past it a request gets 503 with Retry-After. 0 =
	// DefaultTenantMaxConcurrentRequests.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// MaxTunnels bounds the upgraded connections (WebSockets) one tenant
	// holds open on the node; past it an upgrade gets 503. 0 =
	// DefaultTenantMaxTunnels.
	MaxTunnels int `yaml:"max_tunnels"`
}

// Defaults of TenantShare: a 2-core node serves a few thousand requests
// in flight, and each tunnel holds two goroutines and two sockets.
const (
	DefaultTenantMaxConcurrentRequests = 4096
	DefaultTenantMaxTunnels            = 1024
	maxTenantShare                     = 1_000_000
)

// WithDefaults fills the zero fields with their defaults.
func (s TenantShare) WithDefaults() TenantShare {
	if s.MaxConcurrentRequests == 0 {
		s.MaxConcurrentRequests = DefaultTenantMaxConcurrentRequests
	}
	if s.MaxTunnels == 0 {
		s.MaxTunnels = DefaultTenantMaxTunnels
	}
	return s
}

// For returns the share of a tenant with limits l: its own where set,
// else s's (with defaults).
func (s TenantShare) For(l *TenantLimits) TenantShare {
	s = s.WithDefaults()
	if l.MaxConcurrentRequests > 0 {
		s.MaxConcurrentRequests = l.MaxConcurrentRequests
	}
	if l.MaxTunnels > 0 {
		s.MaxTunnels = l.MaxTunnels
	}
	return s
}

func validateShareField(ps *problems, path string, v int) {
	if v < 0 || v > maxTenantShare {
		ps.add(path, "%d: want 0 (the node's default) to %d", v, maxTenantShare)
	}
}
