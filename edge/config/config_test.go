package config

import (
	"testing"
	"time"
)

func TestLimitsWithDefaults(t *testing.T) {
	all := Limits{
		ReadHeaderTimeout:           Duration(DefaultReadHeaderTimeout),
		IdleTimeout:                 Duration(DefaultIdleTimeout),
		MaxHeaderBytes:              DefaultMaxHeaderBytes,
		MaxConcurrentStreams:        DefaultMaxConcurrentStreams,
		DrainTimeout:                Duration(DefaultDrainTimeout),
		BodyIdleTimeout:             Duration(DefaultBodyIdleTimeout),
		TunnelIdleTimeout:           Duration(DefaultTunnelIdleTimeout),
		UpstreamMaxConnsPerEndpoint: DefaultUpstreamMaxConns,
	}
	tests := []struct {
		name    string
		in, out Limits
	}{
		{"zero takes every default", Limits{}, all},
		{"set fields are kept", Limits{
			ReadHeaderTimeout: Duration(time.Second),
			MaxHeaderBytes:    1024,
		}, Limits{
			ReadHeaderTimeout:           Duration(time.Second),
			IdleTimeout:                 Duration(DefaultIdleTimeout),
			MaxHeaderBytes:              1024,
			MaxConcurrentStreams:        DefaultMaxConcurrentStreams,
			DrainTimeout:                Duration(DefaultDrainTimeout),
			BodyIdleTimeout:             Duration(DefaultBodyIdleTimeout),
			TunnelIdleTimeout:           Duration(DefaultTunnelIdleTimeout),
			UpstreamMaxConnsPerEndpoint: DefaultUpstreamMaxConns,
		}},
		{"all set", Limits{1, 2, 3, 4, 5, 6, 7, FilterCaps{MaxInstances: 8}, TenantShare{MaxTunnels: 9}, 10, Quotas{MaxFilters: 10}, Uploads{Workers: 11}}, Limits{1, 2, 3, 4, 5, 6, 7, FilterCaps{MaxInstances: 8}, TenantShare{MaxTunnels: 9}, 10, Quotas{MaxFilters: 10}, Uploads{Workers: 11}}},
		// Negative values are the validator's to refuse, not defaults'.
		{"negative is not zero", Limits{ReadHeaderTimeout: -1, MaxConcurrentStreams: -1}, Limits{
			ReadHeaderTimeout:           -1,
			IdleTimeout:                 Duration(DefaultIdleTimeout),
			MaxHeaderBytes:              DefaultMaxHeaderBytes,
			MaxConcurrentStreams:        -1,
			DrainTimeout:                Duration(DefaultDrainTimeout),
			BodyIdleTimeout:             Duration(DefaultBodyIdleTimeout),
			TunnelIdleTimeout:           Duration(DefaultTunnelIdleTimeout),
			UpstreamMaxConnsPerEndpoint: DefaultUpstreamMaxConns,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if got := in.WithDefaults(); got != tt.out {
				t.Errorf("WithDefaults() = %+v, want %+v", got, tt.out)
			}
			if in != tt.in {
				t.Errorf("WithDefaults changed its receiver to %+v", in)
			}
		})
	}
}

func TestTimeoutsWithDefaults(t *testing.T) {
	tests := []struct {
		name    string
		in, out Timeouts
	}{
		// Request has no default: zero means no bound.
		{"zero", Timeouts{}, Timeouts{
			Connect:        Duration(DefaultConnectTimeout),
			ResponseHeader: Duration(DefaultResponseHeader),
		}},
		{"set fields are kept", Timeouts{Connect: Duration(time.Second), Request: Duration(time.Minute)}, Timeouts{
			Connect:        Duration(time.Second),
			ResponseHeader: Duration(DefaultResponseHeader),
			Request:        Duration(time.Minute),
		}},
		{"all set", Timeouts{1, 2, 3}, Timeouts{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if got := in.WithDefaults(); got != tt.out {
				t.Errorf("WithDefaults() = %+v, want %+v", got, tt.out)
			}
			if in != tt.in {
				t.Errorf("WithDefaults changed its receiver to %+v", in)
			}
		})
	}
}

// TestWithDefaultsLeavesConfigAlone checks that taking defaults of the
// limits and timeouts inside a parsed Config does not write them back.
func TestWithDefaultsLeavesConfigAlone(t *testing.T) {
	cfg, err := Parse([]byte(`
listeners: [{address: ":80"}]
tenants:
  - name: a
    routes: [{respond: {}}]
`), "t.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	_ = cfg.Limits.WithDefaults()
	_ = cfg.Tenants[0].Routes[0].Timeouts.WithDefaults()
	if cfg.Limits != (Limits{}) {
		t.Errorf("Limits = %+v, want the zero Limits", cfg.Limits)
	}
	if got := cfg.Tenants[0].Routes[0].Timeouts; got != (Timeouts{}) {
		t.Errorf("Timeouts = %+v, want the zero Timeouts", got)
	}
}
