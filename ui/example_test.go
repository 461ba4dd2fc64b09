package ui_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/ui"
)

// The application mounts the dashboard under /chorus, behind a bearer
// token; a browser signs in once with the token.
func ExampleHandler() {
	ctx := context.Background()
	eng, err := chorus.Open(ctx, "app.db", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	h, err := ui.Handler(eng, &ui.Options{
		Prefix: "/chorus",
		Auth:   ui.BearerToken(os.Getenv("CHORUS_TOKEN")),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chorus/", h)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// The application's own authentication names the user, whose name the
// journal records with each action taken through the dashboard.
func ExampleAuthFunc() {
	type userKey struct{}
	auth := ui.AuthFunc(func(r *http.Request) (string, error) {
		// Set by the application's middleware.
		if user, ok := r.Context().Value(userKey{}).(string); ok {
			return user, nil
		}
		return "", ui.ErrNoCredentials
	})
	_ = &ui.Options{Auth: auth}
}
