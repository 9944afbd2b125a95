//go:build !linux

package runtime

import "errors"

func newSnapshotFile(uint32, []chunk) (int, error) { return -1, errors.ErrUnsupported }

func mapSnapshot([]byte, int, int) error { return errors.ErrUnsupported }

func closeSnapshotFile(int) {}

func readSnapshotFile(int, []byte, int64) error { return errors.ErrUnsupported }
