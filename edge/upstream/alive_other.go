//go:build !unix

package upstream

// alive cannot peek without blocking here; the upstream's answer tells.
func alive(cn *conn) bool { return cn.br.Buffered() == 0 }
