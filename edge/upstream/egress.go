package upstream

import (
	"fmt"
	"net/netip"
	"syscall"

	"github.com/wedgeproxy/wedge/edge/egress"
)

// ErrEgressRefused is the error (wrapped in an *EgressError) of a
// connection the node's egress policy refused: its endpoint resolved to
// an address tenants may not reach. Nothing was connected.
var ErrEgressRefused = egress.ErrRefused

// EgressError is a dial the egress policy refused. errors.Is(err,
// ErrEgressRefused) holds for it.
type EgressError struct {
	// Addr is the resolved address refused ("127.0.0.1:2379").
	Addr string
	// Reason is the step of the policy that refused it ("loopback").
	Reason string
}

func (e *EgressError) Error() string {
	return fmt.Sprintf("upstream: %s is %v (%s)", e.Addr, ErrEgressRefused, e.Reason)
}

// Unwrap makes errors.Is(err, ErrEgressRefused) hold.
func (e *EgressError) Unwrap() error { return ErrEgressRefused }

// useEgress makes every connection c opens checked against eg.
func (c *Client) useEgress(eg *egress.Policy) {
	if eg == nil {
		c.control = nil
		return
	}
	c.control = func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &EgressError{Addr: address, Reason: "not an IP address"}
		}
		if reason, ok := eg.Check(ap); !ok {
			return &EgressError{Addr: address, Reason: reason}
		}
		return nil
	}
}
