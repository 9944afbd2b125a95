module github.com/wedgeproxy/wedge/filters

go 1.26.0

require github.com/wedgeproxy/wedge/sdk v0.0.0

replace github.com/wedgeproxy/wedge/sdk => ../sdk
