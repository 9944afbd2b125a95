package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and always answers with exactly
// one of a Config and a *config.Error whose problems all say something. It
// is seeded with every configuration under testdata, valid and invalid.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/good/*.yaml", "testdata/bad/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		if len(files) == 0 {
			f.Fatalf("no seeds match %s", pattern)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Relative paths resolve as for the good seeds, whose
		// ../certs pair must load.
		cfg, err := Parse(data, "fuzz.yaml", "testdata/good")
		switch {
		case cfg == nil && err == nil:
			t.Fatal("Parse returned neither a Config nor an error")
		case cfg != nil && err != nil:
			t.Fatalf("Parse returned a Config and an error: %v", err)
		case err != nil:
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *config.Error: %v", err, err)
			}
			if len(ce.Problems) == 0 {
				t.Fatal("*config.Error with no problems")
			}
			for i, p := range ce.Problems {
				if p == nil || p.Msg == "" {
					t.Fatalf("problem %d has no message: %v", i, err)
				}
			}
		default:
			// A valid config stays valid: Validate agrees with Parse.
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Parse accepted a config that Validate refuses: %v", err)
			}
		}
	})
}
