package ui_test

import (
	"context"
	"log"
	"net/http"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/ui"
)

// The dashboard serves the people's inbox: each person signs in through
// the application's authentication and works the human tasks assigned to
// them or their groups, as themselves. The user the authenticator names
// must be the ID the directory knows.
func ExampleHandler_inbox() {
	ctx := context.Background()
	type userKey struct{}
	dir := human.NewMemoryDirectory().Add(
		human.User{ID: "ann", Groups: []string{"underwriters"}},
		human.User{ID: "bob", Groups: []string{"underwriters"}},
	)
	eng, err := chorus.Open(ctx, "app.db", &chorus.Options{
		Definitions: human.Definitions(dir, nil), // and the workflows that call human.Ask
	})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	h, err := ui.Handler(eng, &ui.Options{
		Prefix: "/chorus",
		Auth: ui.AuthFunc(func(r *http.Request) (string, error) {
			if user, ok := r.Context().Value(userKey{}).(string); ok { // set by the application's middleware
				return user, nil
			}
			return "", ui.ErrNoCredentials
		}),
		Inbox: human.NewInbox(eng, dir),
		// The completion form offers these fields for loan-review tasks.
		Outcomes: map[string]any{"loan-review": Verdict{Outcome: "approve", Reason: "-"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chorus/", h) // people go to /chorus/inbox/
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
