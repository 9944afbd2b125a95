package cache

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var dateNow = time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC)

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		in   string
		ok   bool
		want time.Time
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", true, want},
		{"Sunday, 06-Nov-94 08:49:37 GMT", true, want},
		{"Sun Nov  6 08:49:37 1994", true, want},
		{"Sun Nov 06 08:49:37 1994", true, want},       // date3's 2DIGIT
		{"sun, 06 nov 1994 08:49:37 gmt", true, want},  // RFC 9111 §4.2: names case-insensitively
		{"SUNDAY, 06-NOV-94 08:49:37 GMT", true, want}, // likewise
		{"Mon, 06 Nov 1994 08:49:37 GMT", true, want},  // day-name not tied to the date
		{"Sat, 31 Dec 2016 23:59:60 GMT", true, time.Date(2016, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"Thu, 29 Feb 2024 00:00:00 GMT", true, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"Thu, 18 Aug 2050 02:01:18 GMT", true, time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)},
		{"Thursday, 18-Aug-50 02:01:18 GMT", true, time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)},
		{"Thursday, 18-Aug-77 02:01:18 GMT", true, time.Date(1977, 8, 18, 2, 1, 18, 0, time.UTC)}, // 2077: > 50 years ahead
		{"Thursday, 18-Aug-76 02:01:18 GMT", true, time.Date(2076, 8, 18, 2, 1, 18, 0, time.UTC)},

		{"Thu, 18  Aug  2050 02:01:18 GMT", false, time.Time{}}, // double spaces
		{"Thu, 18 Aug 2050 2:01:18 GMT", false, time.Time{}},    // one-digit hour
		{"Thu, 8 Aug 2050 02:01:18 GMT", false, time.Time{}},    // one-digit day
		{"Thu, 18 Aug 50 02:01:18 GMT", false, time.Time{}},     // two-digit year
		{"Thu, 18 Aug 2050 02:01:18 UTC", false, time.Time{}},
		{"Thu, 18 Aug 2050 02:01:18 +0000", false, time.Time{}},
		{"Thu, 18 Aug 2050 02:01:18 GMT ", false, time.Time{}},
		{" Thu, 18 Aug 2050 02:01:18 GMT", false, time.Time{}},
		{"Thu,18 Aug 2050 02:01:18 GMT", false, time.Time{}},
		{"Thu, 18 August 2050 02:01:18 GMT", false, time.Time{}},
		{"Xyz, 18 Aug 2050 02:01:18 GMT", false, time.Time{}},
		{"Thu, 31 Apr 2050 02:01:18 GMT", false, time.Time{}},
		{"Thu, 29 Feb 2023 02:01:18 GMT", false, time.Time{}},
		{"Thu, 00 Aug 2050 02:01:18 GMT", false, time.Time{}},
		{"Thu, 18 Aug 2050 24:00:00 GMT", false, time.Time{}},
		{"Thu, 18 Aug 2050 02:60:00 GMT", false, time.Time{}},
		{"Thu, 18 Aug 2050 02:01:60 GMT", false, time.Time{}}, // a leap second only at 23:59
		{"Thu, 18 Aug 2050 02:01:1x GMT", false, time.Time{}},
		{"Thu, 18 Aug 2050 02-01-18 GMT", false, time.Time{}},
		{"Thu, 18 Aug +050 02:01:18 GMT", false, time.Time{}},
		{"Sun Nov 6 08:49:37 1994", false, time.Time{}},
		{"Sun Nov  6 08:49:37 94", false, time.Time{}},
		{"Sun Nov  6 08:49:37 1994 GMT", false, time.Time{}},
		{"Sunday, 6-Nov-94 08:49:37 GMT", false, time.Time{}},
		{"Sunday, 06-Nov-1994 08:49:37 GMT", false, time.Time{}},
		{"Sun, 06-Nov-94 08:49:37 GMT", false, time.Time{}}, // rfc850 takes the long day-name
		{"Sundae, 06-Nov-94 08:49:37 GMT", false, time.Time{}},
		{"Sunday, 06 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"0", false, time.Time{}},
		{"", false, time.Time{}},
		{"-1", false, time.Time{}},
	}
	for _, tt := range tests {
		got, ok := parseHTTPDate(tt.in, dateNow)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT", dateNow) }); n != 0 {
		t.Errorf("parseHTTPDate allocates %v times", n)
	}
}

// The reference formulation FuzzParseHTTPDate checks the parser against:
// the three grammars of RFC 9110 §5.6.7 as regular expressions (names
// case-insensitive, RFC 9111 §4.2), then the calendar checked by
// time.Date's normalisation.
var (
	refNames  = `(?i:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)`
	refIMF    = regexp.MustCompile(`^(?i:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) ` + refNames + ` ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) (?i:GMT)$`)
	ref850    = regexp.MustCompile(`^(?i:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), ([0-9]{2})-` + refNames + `-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) (?i:GMT)$`)
	refASC    = regexp.MustCompile(`^(?i:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ` + refNames + ` ([0-9]{2}| [0-9]) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([0-9]{4})$`)
	refMonths = "janfebmaraprmayjunjulaugsepoctnovdec"
)

func refParse(s string, now time.Time) (time.Time, bool) {
	var day, mon, year, h, m, sec string
	twoDigit := false
	switch {
	case refIMF.MatchString(s):
		g := refIMF.FindStringSubmatch(s)
		day, year, h, m, sec = g[1], g[2], g[3], g[4], g[5]
		mon = s[8:11]
	case ref850.MatchString(s):
		g := ref850.FindStringSubmatch(s)
		day, year, h, m, sec = g[1], g[2], g[3], g[4], g[5]
		i := strings.IndexByte(s, '-')
		mon = s[i+1 : i+4]
		twoDigit = true
	case refASC.MatchString(s):
		g := refASC.FindStringSubmatch(s)
		day, h, m, sec, year = strings.TrimSpace(g[1]), g[2], g[3], g[4], g[5]
		mon = s[4:7]
	default:
		return time.Time{}, false
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	mo := time.Month(strings.Index(refMonths, strings.ToLower(mon))/3 + 1)
	secs := n(sec)
	if n(h) > 23 || n(m) > 59 || secs > 60 || secs == 60 && (n(h) != 23 || n(m) != 59) {
		return time.Time{}, false
	}
	if secs == 60 {
		secs = 59
	}
	mk := func(y int) (time.Time, bool) {
		t := time.Date(y, mo, n(day), n(h), n(m), secs, 0, time.UTC)
		return t, t.Day() == n(day) && t.Month() == mo
	}
	if !twoDigit {
		return mk(n(year))
	}
	// The year with those two digits within 50 years of now.
	for y := now.Year() - 150; y <= now.Year()+150; y++ {
		if y%100 != n(year) && y%100+100 != n(year) {
			continue
		}
		if t, ok := mk(y); ok && !t.After(now.AddDate(50, 0, 0)) && t.After(now.AddDate(-50, 0, 0)) {
			return t, true
		}
	}
	return time.Time{}, false
}

// FuzzParseHTTPDate: the parser never panics, agrees with the reference
// formulation on every input, and reads back every time it formats in
// the three formats.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Thu, 18  Aug  2050 02:01:18 GMT", "Thu, 18 Aug 2050 2:01:18 GMT", "Sat, 31 Dec 2016 23:59:60 GMT",
		"Thursday, 29-Feb-00 00:00:00 GMT", "0", "", "Sun Nov 31 08:49:37 1994",
	} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, unix int64) {
		got, ok := parseHTTPDate(s, dateNow)
		want, wok := refParse(s, dateNow)
		if ok != wok || ok && !got.Equal(want) {
			t.Fatalf("parseHTTPDate(%q) = %v, %v; reference %v, %v", s, got, ok, want, wok)
		}
		// Round trip: any second of years 0000-9999.
		const lo, hi = -62167219200, 253402300799
		span := int64(hi - lo + 1)
		tm := time.Unix(lo+((unix%span)+span)%span, 0).UTC()
		for _, layout := range []string{http.TimeFormat, "Monday, 02-Jan-06 15:04:05 GMT", time.ANSIC} {
			v := tm.Format(layout)
			back, ok := parseHTTPDate(v, tm)
			if !ok || !back.Equal(tm) {
				t.Fatalf("parseHTTPDate(%q) = %v, %v; want %v", v, back, ok, tm)
			}
		}
	})
}

// TestStrictDates (issue 17 item 2) against a loopback origin: an
// Expires, Date, Last-Modified or If-Modified-Since that is not a strict
// HTTP-date is invalid, and so is a repeated one. An invalid Expires
// means already expired (RFC 9111 §5.3). On the code before,
// http.ParseTime accepted the double spaces and the one-digit hour, and
// only the first of two Expires lines was read: each was fresh until
// 2050.
func TestStrictDates(t *testing.T) {
	type hdrs = [][2]string
	exp := func(v ...string) hdrs {
		var h hdrs
		for _, s := range v {
			h = append(h, [2]string{"Expires", s})
		}
		return h
	}
	tests := []struct {
		name string
		resp hdrs
		hit  bool // the second request, an hour later
	}{
		{"IMF-fixdate", exp("Thu, 18 Aug 2050 02:01:18 GMT"), true},
		{"rfc850", exp("Thursday, 18-Aug-50 02:01:18 GMT"), true},
		{"asctime", exp("Thu Aug 18 02:01:18 2050"), true},
		{"lower case names", exp("thu, 18 aug 2050 02:01:18 gmt"), true},
		{"double spaces", exp("Thu, 18  Aug  2050 02:01:18 GMT"), false},
		{"one-digit hour", exp("Thu, 18 Aug 2050 2:01:18 GMT"), false},
		{"repeated", exp("Thu, 18 Aug 2050 02:01:18 GMT", "Thu, 18 Aug 2050 02:01:18 GMT"), false},
		{"repeated, differing", exp("Thu, 18 Aug 2050 02:01:18 GMT", "0"), false},
		{"zone not GMT", exp("Thu, 18 Aug 2050 02:01:18 UTC"), false},
		{"no such day", exp("Thu, 31 Apr 2050 02:01:18 GMT"), false},
		{"zero", exp("0"), false},
		// Last-Modified: an invalid one gives no heuristic freshness
		// (a valid one 10 days old: 1 day, see TestFreshness).
		{"Last-Modified double spaces", hdrs{{"Last-Modified", "Sun, 06  Nov  1994 08:49:37 GMT"}}, false},
		{"Last-Modified repeated", hdrs{{"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"}}, false},
		{"Last-Modified valid", hdrs{{"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
				for _, kv := range tt.resp {
					w.Header().Add(kv[0], kv[1])
				}
				w.Write([]byte("x"))
			})
			e.get("/d")
			e.clk.advance(time.Hour)
			if r := e.get("/d"); isHit(r) != tt.hit {
				t.Fatalf("hit = %v (%q), want %v", isHit(r), r.cs(), tt.hit)
			}
		})
	}
}

// TestStrictDateValidators (issue 17 item 2): a stored response answers a
// conditional request with 304 only for one valid If-Modified-Since
// (RFC 9110 §13.1.3: otherwise the field is ignored); an invalid Date
// is not used as the response's date.
func TestStrictDateValidators(t *testing.T) {
	const lm = "Sun, 06 Nov 1994 08:49:37 GMT"
	tests := []struct {
		name   string
		ims    []string
		status int
	}{
		{"valid", []string{"Sun, 06 Nov 1994 08:49:37 GMT"}, 304},
		{"valid rfc850", []string{"Sunday, 06-Nov-94 08:49:37 GMT"}, 304},
		{"valid asctime", []string{"Sun Nov  6 08:49:37 1994"}, 304},
		{"double spaces", []string{"Sun, 06  Nov  1994 08:49:37 GMT"}, 200},
		{"one-digit hour", []string{"Sun, 06 Nov 1994 8:49:37 GMT"}, 200},
		{"repeated", []string{lm, lm}, 200},
		{"list", []string{lm + ", " + lm}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Policy{}, fixed(200, "body", "Cache-Control", "max-age=600", "Last-Modified", lm))
			e.get("/v")
			var hdr []string
			for _, v := range tt.ims {
				hdr = append(hdr, "If-Modified-Since", v)
			}
			r := e.get("/v", hdr...)
			if !isHit(r) || r.status != tt.status {
				t.Fatalf("status %d (%q), want a hit with %d", r.status, r.cs(), tt.status)
			}
		})
	}
	t.Run("invalid Date ignored", func(t *testing.T) {
		// Date 100s in the past but with a one-digit hour: the apparent
		// age would make a max-age=60 response stale; ignored, it is fresh.
		var e *env
		e = newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
			d := e.clk.now().UTC().Add(-100 * time.Second)
			w.Header().Set("Date", d.Format("Mon, 02 Jan 2006 ")+strconv.Itoa(d.Hour())+d.Format(":04:05 GMT"))
			w.Header().Set("Cache-Control", "max-age=60")
			w.Write([]byte("x"))
		})
		e.clk.t = time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC) // a one-digit hour
		e.get("/date")
		if r := e.get("/date"); !isHit(r) || r.header.Get("Age") != "0" {
			t.Fatalf("hit %v, Age %q; want a hit with Age 0", isHit(r), r.header.Get("Age"))
		}
	})
}
