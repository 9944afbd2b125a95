package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem in a configuration, at a field path such as
// tenants[1].routes[0].upstream.
type FieldError struct {
	// Path is the field path; empty for problems of the whole document.
	Path string
	// Line is the 1-based line in the YAML source, or 0 when unknown.
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "path: message (line N)".
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// Error is every problem found in one configuration.
type Error struct {
	// File names the configuration source.
	File string
	// Problems are in the order found: first those of decoding (syntax,
	// unknown or repeated fields, wrong types) in document order, then
	// invalid values, field by field.
	Problems []*FieldError
}

// Error lists every problem, one per line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if len(e.Problems) == 1 {
		b.WriteString(e.Problems[0].Error())
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, so errors.As finds each *FieldError.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}
