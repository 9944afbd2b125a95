package node

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/egress"
)

// resolveTimeout bounds resolving the store's member names at start.
const resolveTimeout = 5 * time.Second

// egressPolicy is the node's egress policy: the node file's, with the
// node's own endpoints as they are at start: the admin API as bound
// (every interface address with its port, for a wildcard bind), and the
// store's etcd members, names resolved. It is never nil: a node file
// without egress gets the safe default.
func egressPolicy(cfg *config.Config, admin net.Listener, log *slog.Logger) *egress.Policy {
	ec := cfg.EgressConfig()
	if admin != nil {
		if ta, ok := admin.Addr().(*net.TCPAddr); ok {
			ec.Own = append(ec.Own, ownAddrs(ta.AddrPort(), config.OwnAdmin, log)...)
		}
	}
	if cfg.Store.Type == config.StoreEtcd {
		ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
		defer cancel()
		for _, e := range cfg.Store.Endpoints {
			host, port, err := net.SplitHostPort(config.StoreHostPort(e))
			if err != nil {
				continue // validated
			}
			pn, err := net.LookupPort("tcp", port)
			if err != nil {
				continue
			}
			if a, err := netip.ParseAddr(host); err == nil {
				ec.Own = append(ec.Own, ownAddrs(netip.AddrPortFrom(a, uint16(pn)), config.OwnStore, log)...)
				continue
			}
			ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			if err != nil {
				log.Warn("egress: a store member's name does not resolve at start; its addresses are not refused as the node's own", "endpoint", e, "err", err)
				continue
			}
			for _, ip := range ips {
				ec.Own = append(ec.Own, egress.Endpoint{Addr: netip.AddrPortFrom(ip.Unmap(), uint16(pn)), What: config.OwnStore})
			}
		}
	}
	return egress.New(ec)
}

// ownAddrs is ap as one of the node's own endpoints; an unspecified
// address (a wildcard bind, reachable on every address of the host) is
// each of the host's interface addresses, with the port.
func ownAddrs(ap netip.AddrPort, what string, log *slog.Logger) []egress.Endpoint {
	if !ap.Addr().IsUnspecified() {
		return []egress.Endpoint{{Addr: ap, What: what}}
	}
	out := []egress.Endpoint{{Addr: ap, What: what}}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		log.Warn("egress: the host's addresses are unknown; a wildcard bind is protected on loopback only", "err", err)
		return append(out,
			egress.Endpoint{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()), What: what},
			egress.Endpoint{Addr: netip.AddrPortFrom(netip.IPv6Loopback(), ap.Port()), What: what})
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, egress.Endpoint{Addr: netip.AddrPortFrom(ip.Unmap(), ap.Port()), What: what})
			}
		}
	}
	return out
}
