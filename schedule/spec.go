package schedule

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultCatchupWindow is how far back missed ticks are still started after
// downtime.
const DefaultCatchupWindow = 24 * time.Hour

// Overlap says what a tick does while the action started by an earlier tick
// is still running.
type Overlap uint8

// The overlap policies.
const (
	// OverlapSkip starts nothing for the tick (it is counted as skipped).
	// It is the default.
	OverlapSkip Overlap = iota
	// OverlapBufferOne keeps the tick and starts it once the running action
	// ends; a further tick while one is kept is skipped.
	OverlapBufferOne
	// OverlapAllowAll starts the tick's action alongside the running one.
	OverlapAllowAll
	// OverlapCancelPrevious cancels the running action and starts the
	// tick's.
	OverlapCancelPrevious
)

var overlapNames = []string{"skip", "buffer-one", "allow-all", "cancel-previous"}

func (o Overlap) String() string {
	if int(o) < len(overlapNames) {
		return overlapNames[o]
	}
	return fmt.Sprintf("Overlap(%d)", uint8(o))
}

// MarshalText writes the policy's name, such as "buffer-one".
func (o Overlap) MarshalText() ([]byte, error) {
	if int(o) >= len(overlapNames) {
		return nil, fmt.Errorf("schedule: unknown overlap policy %d", uint8(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText reads a policy's name.
func (o *Overlap) UnmarshalText(b []byte) error {
	p, err := ParseOverlap(string(b))
	if err != nil {
		return err
	}
	*o = p
	return nil
}

// ParseOverlap reads a policy's name: skip, buffer-one, allow-all or
// cancel-previous ("" is skip).
func ParseOverlap(s string) (Overlap, error) {
	if s == "" {
		return OverlapSkip, nil
	}
	for i, n := range overlapNames {
		if n == s {
			return Overlap(i), nil
		}
	}
	return 0, fmt.Errorf("schedule: unknown overlap policy %q (want skip, buffer-one, allow-all or cancel-previous)", s)
}

// Spec says when a schedule starts its action. Exactly one of Cron and
// Every is set.
type Spec struct {
	// Cron is a cron expression of five fields (minute hour day-of-month
	// month day-of-week), or a descriptor such as "@daily" or "@hourly",
	// read in TimeZone. "CRON_TZ=" and "TZ=" prefixes are refused: use
	// TimeZone.
	Cron string `json:"cron,omitempty"`
	// Every starts the action at fixed intervals, aligned on multiples of
	// Every since the Unix epoch (so "every hour" fires on the hour).
	Every time.Duration `json:"every,omitempty"`
	// TimeZone is the IANA name of the zone Cron is read in, such as
	// "Europe/Paris". Across daylight saving time changes, a time the
	// clocks skip ticks once, at the change, and a time they pass twice
	// ticks once, the first time. Defaults to "UTC".
	TimeZone string `json:"time_zone,omitempty"`
	// Jitter delays each start by a random amount below it, the same for
	// a given tick in every process, to spread load. The run ID still
	// names the scheduled time. Defaults to 0.
	Jitter time.Duration `json:"jitter,omitempty"`
	// Overlap is what a tick does while an earlier action runs. Defaults
	// to [OverlapSkip].
	Overlap Overlap `json:"overlap,omitempty"`
	// CatchupWindow is how late a tick may still start, after downtime
	// (the process was stopped, or the schedule could not run): ticks
	// older than this are counted as missed. Defaults to
	// [DefaultCatchupWindow].
	CatchupWindow time.Duration `json:"catchup_window,omitempty"`
	// Paused creates the schedule paused. Defaults to false.
	Paused bool `json:"paused,omitempty"`
}

// compiled is a Spec ready to compute ticks.
type compiled struct {
	cron  cron.Schedule
	every time.Duration
	loc   *time.Location
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate returns an error naming the first invalid field, or nil.
func (s Spec) Validate() error {
	_, err := s.compile()
	return err
}

func (s Spec) compile() (*compiled, error) {
	switch {
	case s.Cron == "" && s.Every == 0:
		return nil, fmt.Errorf("schedule: Spec needs Cron or Every")
	case s.Cron != "" && s.Every != 0:
		return nil, fmt.Errorf("schedule: Spec has both Cron (%q) and Every (%v); set one", s.Cron, s.Every)
	case s.Every < 0:
		return nil, fmt.Errorf("schedule: Spec.Every is negative (%v)", s.Every)
	case s.Every != 0 && s.Every < time.Second:
		return nil, fmt.Errorf("schedule: Spec.Every is under a second (%v)", s.Every)
	case s.Jitter < 0:
		return nil, fmt.Errorf("schedule: Spec.Jitter is negative (%v)", s.Jitter)
	case s.CatchupWindow < 0:
		return nil, fmt.Errorf("schedule: Spec.CatchupWindow is negative (%v)", s.CatchupWindow)
	case int(s.Overlap) >= len(overlapNames):
		return nil, fmt.Errorf("schedule: Spec.Overlap has unknown value %d", uint8(s.Overlap))
	}
	c := &compiled{every: s.Every, loc: time.UTC}
	if s.TimeZone != "" {
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("schedule: Spec.TimeZone %q: %w", s.TimeZone, err)
		}
		c.loc = loc
	}
	if s.Cron != "" {
		if len(s.Cron) >= 3 && (s.Cron[:3] == "TZ=" || (len(s.Cron) >= 8 && s.Cron[:8] == "CRON_TZ=")) {
			return nil, fmt.Errorf("schedule: Spec.Cron %q names a time zone: use Spec.TimeZone", s.Cron)
		}
		sch, err := parser.Parse(s.Cron)
		if err != nil {
			return nil, fmt.Errorf("schedule: Spec.Cron %q: %w", s.Cron, err)
		}
		c.cron = sch
	}
	return c, nil
}

// next returns the first tick strictly after t.
//
// Cron times are wall-clock times in the zone, and daylight saving time
// makes some of them absent or doubled. As cron has long done, a time the
// clocks jump over (02:30 on the night they go forward an hour at 02:00)
// ticks once, at the jump, and a time they pass twice (02:30 on the night
// they go back at 03:00) ticks once, the first time: a nightly schedule
// runs once every night.
func (c *compiled) next(t time.Time) time.Time {
	if c.every > 0 {
		n := t.UnixNano() / int64(c.every)
		return time.Unix(0, (n+1)*int64(c.every)).UTC()
	}
	if _, wallClock := c.cron.(*cron.SpecSchedule); !wallClock {
		return c.cron.Next(t.In(c.loc)).UTC() // "@every": absolute intervals
	}
	for {
		n := c.cron.Next(t.In(c.loc))
		if n.IsZero() {
			return n
		}
		if g := c.skippedTick(t, n); !g.IsZero() {
			return g.UTC()
		}
		if !c.repeated(n) {
			return n.UTC()
		}
		t = n
	}
}

// skippedTick returns the first moment after t and before n at which the
// clocks jumped forward over a wall-clock time the cron expression names,
// or the zero time.
func (c *compiled) skippedTick(t, n time.Time) time.Time {
	at := t.In(c.loc)
	for range 1000 { // bounds the walk: zones change a few times a year
		_, end := at.ZoneBounds()
		if end.IsZero() || !end.Before(n) {
			return time.Time{}
		}
		_, before := end.Add(-time.Nanosecond).Zone()
		_, after := end.Zone()
		if after > before {
			// The wall clock went from wall(end, before) to
			// wall(end, after): read the expression in UTC, which has no
			// jumps, over that gap.
			from := wall(end, before)
			if m := c.cron.Next(from.Add(-time.Nanosecond)); m.Before(wall(end, after)) {
				return end
			}
		}
		at = end
	}
	return time.Time{}
}

// wall returns the wall-clock time of t at offset secs, as a UTC time.
func wall(t time.Time, secs int) time.Time {
	return t.UTC().Add(time.Duration(secs) * time.Second)
}

// repeated reports whether n's wall-clock time happened already a little
// earlier, the clocks having gone back between the two.
func (c *compiled) repeated(n time.Time) bool {
	n = n.In(c.loc)
	_, off := n.Zone()
	start, _ := n.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, prev := start.Add(-time.Nanosecond).Zone()
	if prev <= off {
		return false
	}
	// The clocks went back by prev-off at start: the same wall time came
	// prev-off earlier if that is before start.
	return n.Add(-time.Duration(prev-off) * time.Second).Before(start)
}

func (s Spec) catchup() time.Duration {
	if s.CatchupWindow == 0 {
		return DefaultCatchupWindow
	}
	return s.CatchupWindow
}

// jitter is the delay of the tick at t: a hash of the schedule and the
// tick, so every replay and every process computes the same.
func (s Spec) jitter(id string, t time.Time) time.Duration {
	if s.Jitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	b, _ := t.UTC().MarshalBinary()
	_, _ = h.Write(b)
	return time.Duration(h.Sum64() % uint64(s.Jitter))
}

// String describes the spec, as the CLI shows it.
func (s Spec) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}
