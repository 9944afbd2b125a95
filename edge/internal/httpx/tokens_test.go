package httpx

import (
	"slices"
	"testing"
)

func TestTokens(t *testing.T) {
	vals := []string{"keep-alive, Upgrade", " ,x-a ,, X-B\t", ""}
	var got []string
	EachToken(vals, func(tok string) { got = append(got, tok) })
	if want := []string{"keep-alive", "Upgrade", "x-a", "X-B"}; !slices.Equal(got, want) {
		t.Fatalf("EachToken = %q, want %q", got, want)
	}
	for tok, want := range map[string]bool{"upgrade": true, "KEEP-ALIVE": true, "x-b": true, "close": false, "": false} {
		if HasToken(vals, tok) != want {
			t.Errorf("HasToken(%q) = %v", tok, !want)
		}
	}
}

func FuzzTokens(f *testing.F) {
	f.Add("a, b,,c")
	f.Add(" , ")
	f.Fuzz(func(t *testing.T, v string) {
		EachToken([]string{v}, func(tok string) {
			if tok == "" || !HasToken([]string{v}, tok) {
				t.Fatalf("token %q of %q not found by HasToken", tok, v)
			}
		})
	})
}
