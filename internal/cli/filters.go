package cli

import (
	"strings"
	"time"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/inspect"
)

// attrHelp documents the --attr syntax in the help of `runs list`.
const attrHelp = `Filter on search attributes with --attr, repeatable; a run must match every one:
  --attr NAME=VALUE              keyword attribute equal to VALUE
  --attr NAME:int=N              integer equal to N (also >= and <=)
  --attr NAME:int>=N             integer N or more
  --attr NAME:int<=N             integer N or less
  --attr NAME:bool=true|false    boolean
  --attr NAME:time>=RFC3339      time at or after (also = and <=)
  --attr NAME:keyword=VALUE      the default kind, spelled out`

// parseAttrFilter parses one --attr value (see attrHelp). Errors are usage
// errors naming the value.
func parseAttrFilter(s string) (history.AttrFilter, error) {
	f, err := inspect.ParseAttrFilter(s)
	if err != nil {
		return f, usagef("--attr %v", err)
	}
	return f, nil
}

// parseStatuses parses a comma-separated --status list.
func parseStatuses(s string) ([]history.RunStatus, error) {
	var out []history.RunStatus
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		st, err := history.ParseRunStatus(p)
		if err != nil {
			return nil, usagef("--status: %w", err)
		}
		out = append(out, st)
	}
	return out, nil
}

// parseTimeFlag parses an RFC 3339 time flag; empty is the zero time.
func parseTimeFlag(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usagef("--%s %q: not an RFC 3339 time such as 2026-03-02T09:00:00Z", flag, s)
	}
	return t, nil
}
