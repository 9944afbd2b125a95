package cache

import (
	"strings"
	"time"
)

// parseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) strictly, in its
// three formats exactly as the grammar writes them:
//
//	IMF-fixdate   Sun, 06 Nov 1994 08:49:37 GMT
//	rfc850-date   Sunday, 06-Nov-94 08:49:37 GMT
//	asctime-date  Sun Nov  6 08:49:37 1994
//
// Single spaces where the grammar has SP (asctime's day is 2DIGIT or SP
// DIGIT), two-digit day, hour, minute and second, four-digit years (two
// in rfc850), no other zone than GMT, nothing before or after. Names
// (days, months, GMT) match case-insensitively, as RFC 9111 §4.2 asks of
// a cache. The date must exist (no 31 Apr, no day 00), hours are 00-23,
// minutes 00-59, seconds 00-59 or the leap second 23:59:60, which is read
// as 23:59:59, the nearest earlier time (RFC 9111 §4.2). The day-name is
// not checked against the date: the grammar does not tie them.
//
// An rfc850 two-digit year is the one with those digits that puts the
// time within 50 years of now either way: a time more than 50 years in
// the future is read in the past century (RFC 9110 §5.6.7).
//
// It does not allocate.
func parseHTTPDate(s string, now time.Time) (time.Time, bool) {
	switch {
	case len(s) == 29 && s[3] == ',':
		// IMF-fixdate: day-name "," SP day SP month SP year SP time SP GMT
		if !dayName(s[:3]) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ' || !strings.EqualFold(s[26:], "GMT") {
			return time.Time{}, false
		}
		day, ok1 := dateDigits(s[5:7])
		mon := month(s[8:11])
		year, ok2 := dateDigits(s[12:16])
		if !ok1 || !ok2 || mon == 0 {
			return time.Time{}, false
		}
		return build(year, mon, day, s[17:25])
	case len(s) == 24 && s[3] == ' ':
		// asctime-date: day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time SP year
		if !dayName(s[:3]) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
			return time.Time{}, false
		}
		mon := month(s[4:7])
		var day int
		var ok1 bool
		if s[8] == ' ' {
			day, ok1 = dateDigits(s[9:10])
		} else {
			day, ok1 = dateDigits(s[8:10])
		}
		year, ok2 := dateDigits(s[20:24])
		if !ok1 || !ok2 || mon == 0 {
			return time.Time{}, false
		}
		return build(year, mon, day, s[11:19])
	}
	// rfc850-date: day-name-l "," SP day "-" month "-" 2DIGIT SP time SP GMT
	i := strings.IndexByte(s, ',')
	if i < 0 || !longDayName(s[:i]) {
		return time.Time{}, false
	}
	r := s[i+1:]
	if len(r) != 23 || r[0] != ' ' || r[3] != '-' || r[7] != '-' || r[10] != ' ' || r[19] != ' ' || !strings.EqualFold(r[20:], "GMT") {
		return time.Time{}, false
	}
	day, ok1 := dateDigits(r[1:3])
	mon := month(r[4:7])
	yy, ok2 := dateDigits(r[8:10])
	if !ok1 || !ok2 || mon == 0 {
		return time.Time{}, false
	}
	now = now.UTC()
	year := now.Year() - now.Year()%100 + yy
	t, ok := build(year, mon, day, r[11:19])
	if !ok {
		// 29 Feb may exist in the other century only.
		for _, y := range [...]int{year - 100, year + 100} {
			if u, ok := build(y, mon, day, r[11:19]); ok && within50(u, now) {
				return u, true
			}
		}
		return time.Time{}, false
	}
	switch {
	case t.After(now.AddDate(50, 0, 0)):
		t, ok = build(year-100, mon, day, r[11:19])
	case !t.After(now.AddDate(-50, 0, 0)):
		t, ok = build(year+100, mon, day, r[11:19])
	}
	return t, ok
}

// within50 reports whether t is in (now-50y, now+50y].
func within50(t, now time.Time) bool {
	return !t.After(now.AddDate(50, 0, 0)) && t.After(now.AddDate(-50, 0, 0))
}

// build makes the UTC time of a date and an "HH:MM:SS" time-of-day,
// checking that both exist.
func build(year int, mon time.Month, day int, hms string) (time.Time, bool) {
	if hms[2] != ':' || hms[5] != ':' {
		return time.Time{}, false
	}
	h, ok1 := dateDigits(hms[0:2])
	m, ok2 := dateDigits(hms[3:5])
	sec, ok3 := dateDigits(hms[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 60 || sec == 60 && (h != 23 || m != 59) {
		return time.Time{}, false
	}
	if sec == 60 {
		sec = 59 // the leap second: the nearest earlier time
	}
	if day < 1 || day > daysIn(mon, year) {
		return time.Time{}, false
	}
	return time.Date(year, mon, day, h, m, sec, 0, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// dateDigits parses s, all ASCII digits, as a decimal number.
func dateDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

var (
	dayNames     = [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	longDayNames = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	monthNames   = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

func dayName(s string) bool {
	for _, n := range dayNames {
		if strings.EqualFold(s, n) {
			return true
		}
	}
	return false
}

func longDayName(s string) bool {
	for _, n := range longDayNames {
		if strings.EqualFold(s, n) {
			return true
		}
	}
	return false
}

// month returns the month named s, or 0.
func month(s string) time.Month {
	for i, n := range monthNames {
		if strings.EqualFold(s, n) {
			return time.Month(i + 1)
		}
	}
	return 0
}

// singleDate parses a field that holds one HTTP-date (Date, Expires,
// Last-Modified, If-Modified-Since): exactly one line, strictly valid. A
// repeated field is invalid, whatever its values.
func singleDate(lines []string, now time.Time) (time.Time, bool) {
	if len(lines) != 1 {
		return time.Time{}, false
	}
	return parseHTTPDate(lines[0], now)
}
