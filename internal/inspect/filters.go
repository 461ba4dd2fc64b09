package inspect

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chorusdev/chorus/history"
)

// AttrFilterError is a search attribute filter that does not parse.
type AttrFilterError struct {
	Input  string // the filter as given
	Reason string // what is wrong with it
}

func (e *AttrFilterError) Error() string {
	shown := e.Input
	if len(shown) > 60 {
		shown = shown[:60] + "..."
	}
	return fmt.Sprintf("%q: %s", shown, e.Reason)
}

// AttrHelp documents the syntax [ParseAttrFilter] reads.
const AttrHelp = `NAME=VALUE              keyword attribute equal to VALUE
NAME:int=N              integer equal to N (also >= and <=)
NAME:int>=N             integer N or more
NAME:int<=N             integer N or less
NAME:bool=true|false    boolean
NAME:time>=RFC3339      time at or after (also = and <=)
NAME:keyword=VALUE      the default kind, spelled out`

// ParseAttrFilter parses one search attribute filter, NAME[:KIND] OP VALUE
// (see [AttrHelp]). Errors are [*AttrFilterError].
func ParseAttrFilter(s string) (history.AttrFilter, error) {
	bad := func(format string, args ...any) (history.AttrFilter, error) {
		return history.AttrFilter{}, &AttrFilterError{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	i := strings.IndexByte(s, '=')
	if i < 0 {
		return bad("want NAME=VALUE or NAME:KIND OP VALUE (OP is =, >= or <=)")
	}
	lhs, op, value := s[:i], "=", s[i+1:]
	if strings.HasSuffix(lhs, ">") || strings.HasSuffix(lhs, "<") {
		op = lhs[len(lhs)-1:] + "="
		lhs = lhs[:len(lhs)-1]
	}
	name, kind := lhs, "keyword"
	if j := strings.LastIndexByte(lhs, ':'); j >= 0 {
		name, kind = lhs[:j], lhs[j+1:]
	}
	if name == "" {
		return bad("empty attribute name")
	}
	var f history.AttrFilter
	switch kind {
	case "keyword":
		if op != "=" {
			return bad("a keyword takes only =, not %s", op)
		}
		f = history.NewKeyword(name).Is(value)
	case "bool":
		if op != "=" {
			return bad("a bool takes only =, not %s", op)
		}
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad("%q is not true or false", value)
		}
		f = history.NewBool(name).Is(b)
	case "int":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return bad("%q is not an integer", value)
		}
		k := history.NewInt(name)
		switch op {
		case "=":
			f = k.Is(n)
		case ">=":
			f = k.AtLeast(n)
		default:
			f = k.AtMost(n)
		}
	case "time":
		t, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return bad("%q is not an RFC 3339 time such as 2026-03-02T09:00:00Z", value)
		}
		k := history.NewTime(name)
		// Between is [from, to): the bound one nanosecond later makes <=
		// and = inclusive.
		switch op {
		case "=":
			f = k.Between(t, t.Add(time.Nanosecond))
		case ">=":
			f = k.Between(t, time.Time{})
		default:
			f = k.Between(time.Time{}, t.Add(time.Nanosecond))
		}
	default:
		return bad("unknown kind %q (want keyword, int, bool or time)", kind)
	}
	if err := f.Validate(); err != nil {
		return bad("%v", err)
	}
	return f, nil
}
