package store

import (
	"fmt"
	"strings"
)

// checkTxn refuses, before either store touches anything, the Txns etcd
// would refuse, so that code tested on the embedded store behaves the
// same on etcd: too many cmps or ops, an empty key, a negative ModRev,
// a key put twice, and a put of a key the same Txn deletes (etcd's
// "duplicate key given in txn request").
func checkTxn(cmps []Cmp, ops []Op) error {
	if len(cmps) > MaxTxnOps || len(ops) > MaxTxnOps {
		return fmt.Errorf("store: txn: %d cmps and %d ops: at most %d of each", len(cmps), len(ops), MaxTxnOps)
	}
	for i, c := range cmps {
		if c.Key == "" {
			return fmt.Errorf("store: txn: cmps[%d]: empty key", i)
		}
		if c.ModRev < 0 {
			return fmt.Errorf("store: txn: cmps[%d] (%q): negative ModRev %d", i, c.Key, c.ModRev)
		}
	}
	var deletes, prefixes []string
	for i, op := range ops {
		switch {
		case op.DeletePrefix:
			prefixes = append(prefixes, op.Key)
		case op.Key == "":
			return fmt.Errorf("store: txn: ops[%d]: empty key", i)
		case op.Delete:
			deletes = append(deletes, op.Key)
		}
	}
	puts := make(map[string]bool)
	for i, op := range ops {
		if op.Delete || op.DeletePrefix {
			continue
		}
		if puts[op.Key] {
			return fmt.Errorf("store: txn: ops[%d]: key %q put twice", i, op.Key)
		}
		puts[op.Key] = true
		for _, d := range deletes {
			if d == op.Key {
				return fmt.Errorf("store: txn: ops[%d]: key %q both put and deleted", i, op.Key)
			}
		}
		for _, p := range prefixes {
			if strings.HasPrefix(op.Key, p) {
				return fmt.Errorf("store: txn: ops[%d]: key %q put under prefix %q the same txn deletes", i, op.Key, p)
			}
		}
	}
	return nil
}
