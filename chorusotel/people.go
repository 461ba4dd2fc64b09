package chorusotel

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/chorusdev/chorus"
)

// Attribute keys of the metrics of human tasks and model decisions.
const (
	AttrTask       = attribute.Key("chorus.human.task")
	AttrGroup      = attribute.Key("chorus.human.group")
	AttrModel      = attribute.Key("chorus.decide.model")
	AttrDecidedBy  = attribute.Key("chorus.decided_by")
	AttrFallback   = attribute.Key("chorus.decide.fallback")
	AttrEnabled    = attribute.Key("chorus.decide.enabled")
	AttrSwitchedBy = attribute.Key("chorus.decide.switched_by")
)

// The journal markers this package reads, as the human and decide
// packages write them (human.AuditMarkerPrefix, decide.DecisionMarker,
// decide.SwitchMarker, decide.WatchPrefix). They are repeated here so that
// an application that only traces links neither package.
const (
	humanMarkerPrefix = "human.task."
	decisionMarker    = "decide.decision"
	switchMarker      = "decide.switch"
	watchRunPrefix    = "decide-watch:"
)

// humanBuckets are the bucket boundaries of the human times, in seconds:
// from a second to a week.
var humanBuckets = []float64{1, 10, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 259200, 604800}

// people holds the instruments of human tasks and model decisions, and the
// human tasks this process saw created, until they close.
type people struct {
	created, completed, timedOut, escalated metric.Int64Counter
	timeToClaim, timeToDecide               metric.Float64Histogram
	decisions, fallbacks, compared, agreed  metric.Int64Counter
	switches                                metric.Int64Counter
	enabled                                 metric.Int64Gauge

	// tasks are the open tasks by run and task ID.
	mu    sync.Mutex
	tasks map[string]map[string]*openTask
}

// openTask is what the observer knows of an open human task: when it was
// created (zero when that was before this process started), the group
// it is assigned to, and whether someone took it yet.
type openTask struct {
	created time.Time
	group   string
	taken   bool
}

func (p *people) init(m metric.Meter) error {
	p.tasks = map[string]map[string]*openTask{}
	var errs []error
	counter := func(name, desc, unit string) metric.Int64Counter {
		x, err := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		return x
	}
	seconds := func(name, desc string) metric.Float64Histogram {
		x, err := m.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(humanBuckets...))
		errs = append(errs, err)
		return x
	}
	p.created = counter("chorus.human.tasks.created", "Human tasks created.", "{task}")
	p.completed = counter("chorus.human.tasks.completed", "Human tasks a person completed.", "{task}")
	p.timedOut = counter("chorus.human.tasks.timed_out", "Human tasks whose deadline passed (SLA breaches).", "{task}")
	p.escalated = counter("chorus.human.tasks.escalated", "Escalation steps taken on open human tasks.", "{escalation}")
	p.timeToClaim = seconds("chorus.human.time_to_claim", "Time from a human task's creation to its first claim (or its completion, unclaimed).")
	p.timeToDecide = seconds("chorus.human.time_to_decide", "Time from a human task's creation to its completion.")
	p.decisions = counter("chorus.decide.decisions", "Decisions, by who made them: the model or a person.", "{decision}")
	p.fallbacks = counter("chorus.decide.fallbacks", "Decisions that fell back to a person, by reason.", "{decision}")
	p.compared = counter("chorus.decide.compared", "Decisions a person made on a case the model had a suggestion for.", "{decision}")
	p.agreed = counter("chorus.decide.agreed", "Decisions where the person's outcome equals the model's suggestion.", "{decision}")
	p.switches = counter("chorus.decide.switches", "Times a model was switched off or on.", "{switch}")
	var err error
	p.enabled, err = m.Int64Gauge("chorus.decide.model.enabled", metric.WithDescription("Whether a model may decide (1) or was switched off (0), as of its latest switch."),
		metric.WithUnit("1"))
	errs = append(errs, err)
	return errors.Join(errs...)
}

// The markers' details, as far as the metrics read them: the fields that
// the human and decide packages document for their markers.
type (
	auditDetails struct {
		Task   string `json:"task"`
		User   string `json:"user"`
		Detail string `json:"detail"`
		// Created, Group and Claims are in every entry since they were
		// added: such an entry is measured on its own.
		Created time.Time `json:"created"`
		Group   string    `json:"group"`
		Claims  int       `json:"claims"`
	}
	decisionDetails struct {
		Model     string `json:"model"`
		Fallback  string `json:"fallback"`
		DecidedBy string `json:"decided_by"`
		Compared  bool   `json:"compared"`
		Agreed    bool   `json:"agreed"`
	}
	switchDetails struct {
		Enabled bool   `json:"enabled"`
		By      string `json:"by"`
	}
)

// marker records the metrics of a human task's or a decision's marker;
// it ignores other markers and those whose details do not decode.
func (o *Observer) marker(ctx context.Context, ev chorus.Event) {
	switch {
	case strings.HasPrefix(ev.Name, humanMarkerPrefix):
		var d auditDetails
		if ev.DecodeDetails(&d) != nil || d.Task == "" {
			return
		}
		o.taskAction(ctx, ev, ev.Name[len(humanMarkerPrefix):], d)
	case ev.Name == decisionMarker:
		var d decisionDetails
		if ev.DecodeDetails(&d) != nil || d.Model == "" || d.DecidedBy == "" {
			return
		}
		p := &o.people
		p.decisions.Add(ctx, 1, o.measured(AttrModel, d.Model, AttrDecidedBy, d.DecidedBy))
		if d.Fallback != "" {
			p.fallbacks.Add(ctx, 1, o.measured(AttrModel, d.Model, AttrFallback, d.Fallback))
		}
		if d.Compared {
			model := o.measured(AttrModel, d.Model, "", "")
			p.compared.Add(ctx, 1, model)
			if d.Agreed {
				p.agreed.Add(ctx, 1, model)
			}
		}
	case ev.Name == switchMarker:
		// A switch is journaled in the model's watch run, named after it.
		model, ok := strings.CutPrefix(ev.RunID, watchRunPrefix)
		var d switchDetails
		if !ok || model == "" || ev.DecodeDetails(&d) != nil || d.By == "" {
			return
		}
		by, on, state := "operator", "false", int64(0)
		if d.By == "watch" {
			by = "watch"
		}
		if d.Enabled {
			on, state = "true", 1
		}
		o.people.switches.Add(ctx, 1, o.measured3(AttrModel, model, AttrEnabled, on, AttrSwitchedBy, by))
		o.people.enabled.Record(ctx, state, o.measured(AttrModel, model, "", ""))
	}
}

// taskAction records an action on a human task and follows the task
// until it closes.
func (o *Observer) taskAction(ctx context.Context, ev chorus.Event, action string, d auditDetails) {
	if !d.Created.IsZero() {
		o.taskEntry(ctx, ev, action, d)
		return
	}
	p := &o.people
	p.mu.Lock()
	run := p.tasks[ev.RunID]
	t := run[d.Task]
	switch {
	case action == "created":
		if run == nil {
			run = map[string]*openTask{}
			p.tasks[ev.RunID] = run
		}
		t = &openTask{created: ev.Time, group: assignedGroup(d.Detail)}
		run[d.Task] = t
	case t == nil:
		// Created before this process started: its creation time is
		// unknown, its group is known once it is assigned again.
		if run == nil {
			run = map[string]*openTask{}
			p.tasks[ev.RunID] = run
		}
		t = &openTask{taken: true}
		run[d.Task] = t
	}
	group := t.group
	var claimAfter, decideAfter time.Duration
	var claimed, decided bool
	switch action {
	case "assigned":
		t.group = holderGroup(d.Detail)
	case "reassigned":
		if i := max(strings.LastIndex(d.Detail, " to user "), strings.LastIndex(d.Detail, " to group ")); i >= 0 {
			t.group = holderGroup(d.Detail[i+len(" to "):])
		}
	case "claimed", "completed":
		if !t.taken && !t.created.IsZero() {
			claimAfter, claimed = ev.Time.Sub(t.created), true
		}
		t.taken = true
		if action == "completed" && !t.created.IsZero() {
			decideAfter, decided = ev.Time.Sub(t.created), true
		}
	}
	switch action {
	case "completed", "timed-out", "canceled", "failed":
		delete(run, d.Task)
		if len(run) == 0 {
			delete(p.tasks, ev.RunID)
		}
	}
	p.mu.Unlock()

	attrs := o.measured(AttrTask, taskName(d.Task), AttrGroup, group)
	switch action {
	case "created":
		p.created.Add(ctx, 1, attrs)
	case "completed":
		p.completed.Add(ctx, 1, attrs)
	case "timed-out":
		p.timedOut.Add(ctx, 1, attrs)
	case "escalated":
		p.escalated.Add(ctx, 1, attrs)
	}
	if claimed {
		p.timeToClaim.Record(ctx, claimAfter.Seconds(), attrs)
	}
	if decided {
		p.timeToDecide.Record(ctx, decideAfter.Seconds(), attrs)
	}
}

// taskEntry records an action on a human task from its entry alone: the
// entry says when the task was created, its group and how often it was
// claimed, so a process that restarted while the task was open measures
// it as well as the one that saw it created.
func (o *Observer) taskEntry(ctx context.Context, ev chorus.Event, action string, d auditDetails) {
	p := &o.people
	group := d.Group
	if action == "created" && group == "" {
		group = assignedGroup(d.Detail) // asked of a group, not assigned yet
	}
	attrs := o.measured(AttrTask, taskName(d.Task), AttrGroup, group)
	switch action {
	case "created":
		p.created.Add(ctx, 1, attrs)
	case "completed":
		p.completed.Add(ctx, 1, attrs)
		p.timeToDecide.Record(ctx, ev.Time.Sub(d.Created).Seconds(), attrs)
	case "timed-out":
		p.timedOut.Add(ctx, 1, attrs)
	case "escalated":
		p.escalated.Add(ctx, 1, attrs)
	}
	if action == "claimed" && d.Claims == 1 || action == "completed" && d.Claims == 0 {
		p.timeToClaim.Record(ctx, ev.Time.Sub(d.Created).Seconds(), attrs)
	}
}

// forgetTasks drops the tasks of a run that ended (or continued as new).
func (o *Observer) forgetTasks(run string) {
	o.people.mu.Lock()
	delete(o.people.tasks, run)
	o.people.mu.Unlock()
}

// taskName is the task kind's name of a task ID "<name>-<n>".
func taskName(id string) string {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 || i == len(id)-1 {
		return id
	}
	for _, c := range id[i+1:] {
		if c < '0' || c > '9' {
			return id
		}
	}
	return id[:i]
}

// assignedGroup is the group of the assignment a task was created with
// (the detail of its "created" entry: "assign group G", "assign
// round-robin over G"), empty for one that names no group.
func assignedGroup(detail string) string {
	a, _ := strings.CutPrefix(detail, "assign ")
	if g, ok := strings.CutPrefix(a, "round-robin over "); ok {
		return g
	}
	return holderGroup(a)
}

// holderGroup is the group of a task's holder as the audit writes it:
// "group G", "user U (group G)", or "user U" (no group).
func holderGroup(h string) string {
	if g, ok := strings.CutPrefix(h, "group "); ok {
		return g
	}
	if i := strings.LastIndex(h, " (group "); i >= 0 && strings.HasSuffix(h, ")") {
		return h[i+len(" (group ") : len(h)-1]
	}
	return ""
}
