package human_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/workflow"
)

// A claim goes to the adjusters; ann claims it, comments and decides, and
// the workflow gets her typed decision. The notifier tells the example
// when the task is in the inbox.
func Example() {
	type ClaimContext struct {
		Claim  string
		Amount int
	}
	type Decision struct {
		Outcome string
	}
	review := human.NewTask[ClaimContext, Decision]("claim-review")
	claimFlow := workflow.New("claim", func(ctx workflow.Context, c ClaimContext) (string, error) {
		ctx = human.Enable(ctx)
		d, err := human.Ask(ctx, review, c, &human.Options{
			Assign:    human.ToGroup("adjusters"),
			Deadline:  48 * time.Hour,
			Escalate:  []human.Step{{After: 24 * time.Hour, Assign: human.ToGroup("senior-adjusters")}},
			OnTimeout: human.Default(Decision{Outcome: "refer"}),
		})
		if err != nil {
			return "", err
		}
		return c.Claim + ": " + d.Outcome, nil
	})

	dir := human.NewMemoryDirectory().Add(
		human.User{ID: "ann", Groups: []string{"adjusters"}},
		human.User{ID: "bob", Groups: []string{"adjusters"}},
	)
	assigned := make(chan human.Notice, 1)
	notifier := human.NotifierFunc(func(_ context.Context, n human.Notice) error {
		assigned <- n
		return nil
	})

	tmp, err := os.MkdirTemp("", "chorus-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	eng, err := chorus.Open(ctx, filepath.Join(tmp, "example.db"), &chorus.Options{
		Definitions: append(human.Definitions(dir, notifier), claimFlow),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	inbox := human.NewInbox(eng, dir)

	run, err := chorus.Start(ctx, eng, claimFlow, ClaimContext{Claim: "C-7", Amount: 900}, &chorus.StartOptions{ID: "claim-7"})
	if err != nil {
		log.Fatal(err)
	}
	n := <-assigned
	fmt.Println("notified:", n.Event, "to group", n.Group, "users", len(n.Users))

	tasks, _ := inbox.List(ctx, "ann")
	t := tasks[0]
	c, _ := review.Input(t)
	fmt.Printf("ann sees %s: %+v, due after %v\n", t.ID, c, t.Due.Sub(t.Created))

	_, err = inbox.Claim(ctx, "ann", t.RunID, t.ID)
	fmt.Println("ann claims:", err)
	_, err = inbox.Claim(ctx, "bob", t.RunID, t.ID)
	fmt.Println("bob claims:", err)
	_, err = inbox.Complete(ctx, "ann", t.RunID, t.ID, map[string]any{"outcome": 1})
	fmt.Println("malformed:", err)
	_, _ = inbox.Comment(ctx, "ann", t.RunID, t.ID, "receipts check out")
	_, err = inbox.Complete(ctx, "ann", t.RunID, t.ID, Decision{Outcome: "approve"})
	fmt.Println("ann completes:", err)

	out, err := run.Result(ctx)
	fmt.Println(out, err)
	audit, _ := inbox.Audit(ctx, t.RunID, t.ID)
	for _, a := range audit {
		if a.Action != "notified" { // it runs beside the task: its place varies
			fmt.Println(strings.TrimSpace(a.Action + " " + a.User + " " + a.Detail))
		}
	}
	// Output:
	// notified: assigned to group adjusters users 2
	// ann sees claim-review-1: {Claim:C-7 Amount:900}, due after 48h0m0s
	// ann claims: <nil>
	// bob claims: human: claim of task "claim-review-1" in run "claim-7" by "bob" refused: human: task is claimed by another user: ann holds it
	// malformed: human: complete of task "claim-review-1" in run "claim-7" by "ann" refused: human: invalid outcome for task claim-review: json: cannot unmarshal number into Go struct field Decision.Outcome of type string
	// ann completes: <nil>
	// C-7: approve <nil>
	// created  assign group adjusters
	// assigned  group adjusters
	// claimed ann
	// commented ann receipts check out
	// completed ann {"Outcome":"approve"}
}

// A receiver checks each delivery's signature before trusting it.
func ExampleVerifyWebhook() {
	secret := []byte("s3cret")
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := human.VerifyWebhook(secret, r.Header, body, 5*time.Minute, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Println("received", string(body))
	}))
	defer receiver.Close()

	hook := human.Webhook(receiver.URL, string(secret))
	hook.Client = receiver.Client()
	err := hook.Notify(context.Background(), human.Notice{Event: "assigned", RunID: "claim-7", TaskID: "claim-review-1", Task: "claim-review", Assignee: "ann"})
	fmt.Println(err)

	forged := &human.WebhookNotifier{URL: receiver.URL, Secret: []byte("guess"), Client: receiver.Client()}
	err = forged.Notify(context.Background(), human.Notice{Event: "assigned"})
	var we *human.WebhookError
	if errors.As(err, &we) {
		fmt.Println("forged:", we.Status, http.StatusText(we.Status))
	}
	// Output:
	// received {"event":"assigned","run_id":"claim-7","task_id":"claim-review-1","task":"claim-review","assignee":"ann"}
	// <nil>
	// forged: 401 Unauthorized
}
