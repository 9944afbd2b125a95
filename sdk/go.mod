module github.com/wedgeproxy/wedge/sdk

go 1.26.0
