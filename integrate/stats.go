package integrate

import (
	"sort"
	"sync"
	"time"
)

// Observer hears about the decisions of breakers, limiters and retries, to
// feed metrics or logs. Its methods are called synchronously on the calling
// goroutine and must return quickly. Embed [NopObserver] to implement only
// some of them.
type Observer interface {
	// BreakerStateChanged is called when breaker name moves from one state
	// to another.
	BreakerStateChanged(name string, from, to BreakerState)
	// LimiterWaited is called when limiter name made a call wait d before
	// going out.
	LimiterWaited(name string, d time.Duration)
	// LimiterDenied is called when limiter name refused a call that would
	// have had to wait d.
	LimiterDenied(name string, d time.Duration)
	// Retrying is called before endpoint waits d to make attempt number
	// attempt (counted from 2), after err.
	Retrying(endpoint string, attempt int, d time.Duration, err error)
	// FellBack is called when endpoint's call is served by its fallback
	// because of err.
	FellBack(endpoint string, err error)
}

// NopObserver does nothing; embed it to implement part of [Observer].
type NopObserver struct{}

// BreakerStateChanged does nothing.
func (NopObserver) BreakerStateChanged(string, BreakerState, BreakerState) {}

// LimiterWaited does nothing.
func (NopObserver) LimiterWaited(string, time.Duration) {}

// LimiterDenied does nothing.
func (NopObserver) LimiterDenied(string, time.Duration) {}

// Retrying does nothing.
func (NopObserver) Retrying(string, int, time.Duration, error) {}

// FellBack does nothing.
func (NopObserver) FellBack(string, error) {}

// Stats is a snapshot of one breaker, limiter or endpoint's counters since
// the process started. A name that has both a breaker and a limiter has
// both parts filled in.
type Stats struct {
	// Name is the breaker's, limiter's or call's name.
	Name string `json:"name"`
	// Kind lists what the name is: "breaker", "limiter", "endpoint", joined
	// with "+" when it is several.
	Kind string `json:"kind"`
	// BreakerState is the breaker's state now ("" without a breaker).
	BreakerState string `json:"breaker_state,omitempty"`
	// StateChanges counts the breaker's transitions; Opened counts those
	// to open; LastChange is when the latest happened.
	StateChanges int64     `json:"state_changes,omitempty"`
	Opened       int64     `json:"opened,omitempty"`
	LastChange   time.Time `json:"last_change,omitzero"`
	// Rejected counts calls the open breaker refused.
	Rejected int64 `json:"rejected,omitempty"`
	// LimiterWaits counts calls the limiter delayed and WaitTime adds
	// their delays; LimiterDenials counts calls it refused.
	LimiterWaits   int64         `json:"limiter_waits,omitempty"`
	WaitTime       time.Duration `json:"wait_time,omitempty"`
	LimiterDenials int64         `json:"limiter_denials,omitempty"`
	// Calls counts requests sent, Failures those that failed (after which
	// a retry may have followed), Retries the retries, Fallbacks the calls
	// served by a fallback.
	Calls     int64 `json:"calls,omitempty"`
	Failures  int64 `json:"failures,omitempty"`
	Retries   int64 `json:"retries,omitempty"`
	Fallbacks int64 `json:"fallbacks,omitempty"`
}

type registry struct {
	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	Stats
	kinds   map[string]bool
	breaker *Breaker
}

var stats = &registry{entries: map[string]*entry{}}

func (r *registry) with(name, kind string, fn func(e *entry)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[name]
	if e == nil {
		e = &entry{Stats: Stats{Name: name}, kinds: map[string]bool{}}
		r.entries[name] = e
	}
	e.kinds[kind] = true
	if fn != nil {
		fn(e)
	}
}

// Snapshot returns the counters of every breaker, limiter and HTTP call
// created in this process, sorted by name. The dashboard's Integrations
// page shows them.
func Snapshot() []Stats {
	stats.mu.Lock()
	out := make([]Stats, 0, len(stats.entries))
	breakers := make([]*Breaker, 0, len(stats.entries))
	for _, e := range stats.entries {
		s := e.Stats
		kinds := make([]string, 0, 3)
		for _, k := range []string{"endpoint", "breaker", "limiter"} {
			if e.kinds[k] {
				kinds = append(kinds, k)
			}
		}
		s.Kind = join(kinds)
		out = append(out, s)
		breakers = append(breakers, e.breaker)
	}
	stats.mu.Unlock()
	for i, b := range breakers {
		if b != nil {
			out[i].BreakerState = b.State().String() // reads the live state, which moves to half-open lazily
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func join(s []string) string {
	out := ""
	for i, k := range s {
		if i > 0 {
			out += "+"
		}
		out += k
	}
	return out
}

func observe(o Observer) Observer {
	if o == nil {
		return NopObserver{}
	}
	return o
}
