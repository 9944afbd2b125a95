module github.com/wedgeproxy/wedge

go 1.26.0

require (
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/quic-go/quic-go v0.65.0
	github.com/tetratelabs/wazero v1.12.0
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/quic-go/qpack v0.6.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
