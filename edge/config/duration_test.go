package config

import (
	"errors"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string // "" for no error
	}{
		{in: `5s`, want: 5 * time.Second},
		{in: `"250ms"`, want: 250 * time.Millisecond},
		{in: `1m30s`, want: 90 * time.Second},
		{in: `1h2m3.5s`, want: time.Hour + 2*time.Minute + 3500*time.Millisecond},
		{in: `0`, want: 0}, // "0" is the one duration without a unit
		{in: `-1s`, want: -time.Second},
		{in: `~`, want: 0}, // null leaves the zero value
		{in: `5`, wantErr: `line 1: "5" is not a duration (want e.g. "5s", "250ms")`},
		{in: `1.5`, wantErr: `line 1: "1.5" is not a duration (want e.g. "5s", "250ms")`},
		{in: `10 s`, wantErr: `line 1: "10 s" is not a duration (want e.g. "5s", "250ms")`},
		{in: `""`, wantErr: `line 1: "" is not a duration (want e.g. "5s", "250ms")`},
		{in: `five seconds`, wantErr: `line 1: "five seconds" is not a duration (want e.g. "5s", "250ms")`},
		{in: `[5s]`, wantErr: `line 1: want a duration such as "5s", got a list`},
		{in: `{s: 5}`, wantErr: `line 1: want a duration such as "5s", got a mapping`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := yaml.Unmarshal([]byte(tt.in), &d)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Unmarshal(%q): %v", tt.in, err)
				}
				if d.D() != tt.want {
					t.Errorf("Unmarshal(%q) = %v, want %v", tt.in, d, tt.want)
				}
				return
			}
			// A *yaml.TypeError lets yaml.v3 go on and report the
			// other problems of the document.
			var te *yaml.TypeError
			if !errors.As(err, &te) || len(te.Errors) != 1 {
				t.Fatalf("Unmarshal(%q) error = %#v, want a *yaml.TypeError with one message", tt.in, err)
			}
			if te.Errors[0] != tt.wantErr {
				t.Errorf("Unmarshal(%q) error = %q, want %q", tt.in, te.Errors[0], tt.wantErr)
			}
		})
	}
}

// TestDurationErrorsDoNotStopDecoding is a regression test: UnmarshalYAML
// returned a plain error, on which yaml.v3 abandons the whole document, so
// one bad duration hid every other problem of the file.
func TestDurationErrorsDoNotStopDecoding(t *testing.T) {
	var v struct {
		A, B Duration
		N    int
	}
	err := yaml.Unmarshal([]byte("a: 5\nb: 7\nn: x\n"), &v)
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) != 3 {
		t.Fatalf("error = %v, want three problems in a *yaml.TypeError", err)
	}
}

func TestDurationMarshal(t *testing.T) {
	in := struct{ D Duration }{Duration(90 * time.Second)}
	out, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "d: 1m30s\n" {
		t.Errorf("Marshal = %q, want %q", out, "d: 1m30s\n")
	}
	var back struct{ D Duration }
	if err := yaml.Unmarshal(out, &back); err != nil || back != in {
		t.Errorf("round trip = %+v, %v; want %+v", back, err, in)
	}
	if s := Duration(1500 * time.Millisecond).String(); s != "1.5s" {
		t.Errorf("String() = %q, want 1.5s", s)
	}
}
