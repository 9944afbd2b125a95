package sdk

import (
	"errors"
	"fmt"

	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

var errNilPlugin = errors.New("sdk: the plugin factory returned a nil Plugin and no error")

// LogLevel is a Proxy-Wasm log level.
type LogLevel uint32

// Log levels, lowest first.
const (
	LevelTrace LogLevel = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
	LevelCritical
)

// String returns the level's name in lower case.
func (l LogLevel) String() string {
	switch l {
	case LevelTrace:
		return "trace"
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	case LevelCritical:
		return "critical"
	}
	return fmt.Sprintf("level(%d)", uint32(l))
}

// LogEnabled reports whether the host keeps messages at level, so that a
// filter can skip building a message the host would discard.
func LogEnabled(level LogLevel) bool {
	min, st := host().GetLogLevel()
	return st != abi.StatusOK || uint32(level) >= min
}

// Log sends msg to the host's log at level.
func Log(level LogLevel, msg string) { host().Log(uint32(level), msg) }

func logf(level LogLevel, format string, args []any) {
	if LogEnabled(level) {
		Log(level, fmt.Sprintf(format, args...))
	}
}

// Debugf logs at debug level, formatting like fmt.Sprintf only when the
// host keeps debug messages.
func Debugf(format string, args ...any) { logf(LevelDebug, format, args) }

// Infof logs at info level.
func Infof(format string, args ...any) { logf(LevelInfo, format, args) }

// Warnf logs at warn level.
func Warnf(format string, args ...any) { logf(LevelWarn, format, args) }

// Errorf logs at error level.
func Errorf(format string, args ...any) { logf(LevelError, format, args) }
