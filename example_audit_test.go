package chorus_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// An auditor gets a signed export of a claim's journal and checks it with
// the signer's public key alone, without the database.
func ExampleEngine_ExportAudit() {
	var Claim = workflow.New("claim", func(ctx workflow.Context, id string) (string, error) {
		return "approved " + id, nil
	})
	ctx := context.Background()
	eng, done := exampleEngine(nil, Claim)
	defer done()
	run, _ := chorus.Start(ctx, eng, Claim, "c-7", &chorus.StartOptions{ID: "claim-7"})
	_, _ = run.Result(ctx)

	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	var doc bytes.Buffer
	st, err := eng.ExportAudit(ctx, &doc, chorus.AuditOptions{Runs: []string{"claim-7"}, Key: priv})
	fmt.Println(st.Runs, st.Signed, err)

	rep, err := history.VerifyAudit(&doc, pub)
	fmt.Println(rep.OK(), rep.Checked, err)
	// Output:
	// 1 true <nil>
	// true true <nil>
}
