// Package sdk writes Proxy-Wasm (ABI 0.2.1) HTTP filters in standard Go.
//
// A filter is a main package built with the standard toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o filter.wasm .
//
// An init function registers a factory, which the host calls with the
// plugin's configuration once per plugin (root) context. Register from init,
// not main: in a -buildmode=c-shared module the host's call to _initialize
// runs package initialization only, and main never runs (it must exist, and
// is best left empty):
//
//	func init() { sdk.Register(newPlugin) }
//
//	func main() {}
//
//	func newPlugin(cfg sdk.PluginConfig) (sdk.Plugin, error) {
//		var c config
//		if err := cfg.Decode(&c); err != nil {
//			return nil, err // the host is told the configuration failed, and why
//		}
//		return &plugin{c}, nil
//	}
//
// A Plugin makes a Filter for every HTTP stream (request and response pair);
// a Filter embeds DefaultFilter and overrides the callbacks it needs. Each
// callback receives the *Stream it runs for, whose methods read and change
// the stream's headers, bodies and trailers, answer locally, or resume it
// after a Pause. Plugin-wide facilities (logging, shared data, shared queues,
// metrics, properties, outbound HTTP calls, the tick timer) are package
// functions.
//
// A filter's module is single-threaded and runs one callback at a time:
// nothing in this package is safe for use by several goroutines.
//
// Package sdktest runs a filter's logic natively under go test, against a
// fake host that records what the filter did.
package sdk
