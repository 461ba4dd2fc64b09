package replay_test

// The workflows of the programs under examples/, with the same names and
// the same commands in the same order, so that their golden histories in
// testdata/ stand for the examples (package main cannot be imported). What
// differs is only what issues no command: the prints are gone, and the
// fanout batch's SideEffect returns a fixed host name instead of
// os.Hostname, so that the recorded histories are the same on every
// machine. The activities only compute their results.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// examples/quickstart.

type (
	Order struct {
		ID    string
		Item  string
		Qty   int
		Cents int64
		Card  string
	}
	Reservation  struct{ ID string }
	Receipt      struct{ ChargeID string }
	Shipment     struct{ Tracking string }
	Confirmation struct{ OrderID, Reservation, Charge, Tracking string }
)

var (
	Reserve = activity.New("reserve-inventory", func(ctx context.Context, o Order) (Reservation, error) {
		return Reservation{ID: "RSV-" + o.ID}, nil
	})
	Charge = activity.New("charge-card", func(ctx context.Context, o Order) (Receipt, error) {
		return Receipt{ChargeID: "CH-" + o.ID}, nil
	})
	Ship = activity.New("ship-order", func(ctx context.Context, o Order) (Shipment, error) {
		return Shipment{Tracking: "TRK-" + o.ID}, nil
	})
)

var PlaceOrder = workflow.New("place-order", func(ctx workflow.Context, o Order) (Confirmation, error) {
	rsv, err := workflow.ExecuteActivity(ctx, Reserve, o).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	rcpt, err := workflow.ExecuteActivity(ctx, Charge, o).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	shp, err := workflow.ExecuteActivity(ctx, Ship, o).Get(ctx)
	if err != nil {
		return Confirmation{}, err
	}
	return Confirmation{OrderID: o.ID, Reservation: rsv.ID, Charge: rcpt.ChargeID, Tracking: shp.Tracking}, nil
})

// examples/approval.

type (
	Claim struct {
		ID, Claimant, What string
		Cents              int64
	}
	Assessment struct{ Cents int64 }
	Decision   struct {
		Approve bool
		By      string
	}
	Escalation struct {
		ClaimID string
		Level   int
	}
	Payout struct {
		Claim Claim
		Cents int64
	}
	Outcome     struct{ ClaimID, Result, DecidedBy, Reference string }
	ClaimStatus struct {
		Stage       string
		Cents       int64
		Escalations int
		Since       time.Time
	}
)

var (
	Approve     = workflow.NewSignal[Decision]("approve")
	StatusQuery = workflow.NewQuery[struct{}, ClaimStatus]("status")
)

const (
	decisionTimeout = 48 * time.Hour
	deductible      = 25000
)

var (
	Assess = activity.New("assess-claim", func(ctx context.Context, c Claim) (Assessment, error) {
		return Assessment{Cents: max(c.Cents-deductible, 0)}, nil
	})
	Escalate = activity.New("escalate-claim", func(ctx context.Context, e Escalation) (string, error) {
		if e.Level > 1 {
			return "the head of claims", nil
		}
		return "the claims manager", nil
	})
	Pay = activity.New("pay-claim", func(ctx context.Context, p Payout) (string, error) {
		return "PAY-" + p.Claim.ID, nil
	})
	Reject = activity.New("reject-claim", func(ctx context.Context, c Claim) (string, error) {
		return "LTR-" + c.ID, nil
	})
)

var HandleClaim = workflow.New("handle-claim", func(ctx workflow.Context, c Claim) (Outcome, error) {
	var st ClaimStatus
	stage := func(s string) { st.Stage, st.Since = s, workflow.Now(ctx) }
	workflow.SetQueryHandler(ctx, StatusQuery, func(struct{}) (ClaimStatus, error) { return st, nil })

	stage("assessing")
	a, err := workflow.ExecuteActivity(ctx, Assess, c).Get(ctx)
	if err != nil {
		return Outcome{}, err
	}
	st.Cents = a.Cents
	stage("awaiting approval")

	decisions := workflow.GetSignalChannel(ctx, Approve)
	var d Decision
	for {
		var ok bool
		if d, ok = decisions.ReceiveWithTimeout(ctx, decisionTimeout); ok {
			break
		}
		st.Escalations++
		to, err := workflow.ExecuteActivity(ctx, Escalate, Escalation{ClaimID: c.ID, Level: st.Escalations}).Get(ctx)
		if err != nil {
			return Outcome{}, err
		}
		stage("escalated to " + to)
	}

	if !d.Approve {
		stage("rejecting")
		ref, err := workflow.ExecuteActivity(ctx, Reject, c).Get(ctx)
		if err != nil {
			return Outcome{}, err
		}
		stage("rejected by " + d.By)
		return Outcome{ClaimID: c.ID, Result: "rejected", DecidedBy: d.By, Reference: ref}, nil
	}
	stage("paying")
	ref, err := workflow.ExecuteActivity(ctx, Pay, Payout{Claim: c, Cents: a.Cents}).Get(ctx)
	if err != nil {
		return Outcome{}, err
	}
	stage("paid, approved by " + d.By)
	return Outcome{ClaimID: c.ID, Result: "paid " + dollars(a.Cents), DecidedBy: d.By, Reference: ref}, nil
})

func dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

// examples/fanout.

type (
	Batch struct {
		Items    int
		Work     time.Duration
		Deadline time.Duration
	}
	Item struct {
		N    int
		Work time.Duration
	}
	Result struct {
		Item, Value int
		Err         string
	}
	Report struct {
		BatchID        string
		Done, Failed   int
		Total          int
		MissedDeadline bool
	}
)

var BatchID = workflow.NewQuery[struct{}, string]("batch-id")

var (
	Process = activity.New("process-item", func(ctx context.Context, it Item) (int, error) {
		return it.N * it.N, nil
	})
	Publish = activity.New("publish-summary", func(ctx context.Context, r Report) (struct{}, error) {
		return struct{}{}, nil
	})
)

// goldenHost stands for os.Hostname in the fanout workflow's SideEffect.
const goldenHost = "golden-host"

var RunBatch = workflow.New("run-batch", func(ctx workflow.Context, b Batch) (Report, error) {
	batchID := "batch-" + workflow.NewUUID(ctx).String()[:8]
	host := workflow.SideEffect(ctx, func() string { return goldenHost })
	_ = host
	workflow.SetQueryHandler(ctx, BatchID, func(struct{}) (string, error) { return batchID, nil })

	batchCtx, cancelBatch := workflow.WithCancel(ctx)
	results := workflow.NewBufferedChannel[Result](ctx, b.Items)
	wg := workflow.NewWaitGroup(ctx)
	for n := 1; n <= b.Items; n++ {
		wg.Add(1)
		workflow.Go(batchCtx, func(ctx workflow.Context) {
			defer wg.Done()
			work := b.Work * time.Duration(n) / time.Duration(b.Items)
			v, err := workflow.ExecuteActivity(ctx, Process, Item{N: n, Work: work}).Get(ctx)
			r := Result{Item: n, Value: v}
			switch {
			case errors.Is(err, workflow.ErrCanceled):
				r.Err = err.Error()
			case err != nil:
				r.Err = err.Error()
			}
			results.Send(ctx, r)
		})
	}
	allDone := workflow.NewChannel[struct{}](ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		wg.Wait(ctx)
		allDone.Close()
	})

	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	deadline := workflow.NewTimer(timerCtx, b.Deadline)
	var missed bool
	workflow.NewSelector(ctx).
		AddReceive(allDone, func() { cancelTimer() }).
		AddFuture(deadline, func() {
			missed = true
			cancelBatch()
		}).
		Select(ctx)
	wg.Wait(ctx)
	results.Close()

	rep := Report{BatchID: batchID, MissedDeadline: missed}
	for {
		r, ok := results.Receive(ctx)
		if !ok {
			break
		}
		if r.Err != "" {
			rep.Failed++
			continue
		}
		rep.Done++
		rep.Total += r.Value
	}
	if workflow.GetVersion(ctx, "publish-summary", workflow.DefaultVersion, 1) == 1 {
		if _, err := workflow.ExecuteActivity(ctx, Publish, rep).Get(ctx); err != nil {
			return rep, err
		}
	}
	return rep, nil
})

// A subscription that renews monthly and continues as new after each
// renewal, so that its history has several generations.

type Subscription struct {
	Customer string
	Month    int
	Until    int
}

var Renew = activity.New("renew-subscription", func(ctx context.Context, s Subscription) (string, error) {
	return fmt.Sprintf("INV-%s-%d", strings.ToUpper(s.Customer), s.Month), nil
})

// Subscribe names itself to continue as new, so it is set in init: a
// package-level initializer that refers to itself is a cycle.
var Subscribe *workflow.Definition[Subscription, string]

func init() {
	Subscribe = workflow.New("subscription", func(ctx workflow.Context, s Subscription) (string, error) {
		if err := workflow.Sleep(ctx, 30*24*time.Hour); err != nil {
			return "", err
		}
		inv, err := workflow.ExecuteActivity(ctx, Renew, s).Get(ctx)
		if err != nil {
			return "", err
		}
		if s.Month < s.Until {
			s.Month++
			return "", workflow.ContinueAsNew(ctx, Subscribe, s)
		}
		return inv, nil
	})
}

// exampleDefs returns every example workflow and activity.
func exampleDefs() []chorus.Definition {
	return []chorus.Definition{
		PlaceOrder, Reserve, Charge, Ship,
		HandleClaim, Assess, Escalate, Pay, Reject,
		RunBatch, Process, Publish,
		Subscribe, Renew,
	}
}
