package codec_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/codec"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/workflow"
)

type Claim struct {
	Patient string
	Amount  int
}

var reviewClaim = workflow.New("review-claim", func(ctx workflow.Context, c Claim) (string, error) {
	if c.Amount > 10_000 {
		return "referred: " + c.Patient, nil
	}
	return "approved: " + c.Patient, nil
})

// An engine whose journal holds its payloads compressed and encrypted,
// with the keys read from a key file.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "chorus-codec")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The key file lists ID=BASE64KEY lines; the first key is the one
	// new payloads are encrypted with. To rotate, put a new key first and
	// keep the old ones below for as long as their payloads are read.
	entry, err := codec.NewKey("2026-12")
	if err != nil {
		log.Fatal(err)
	}
	keyFile := filepath.Join(dir, "chorus.keys")
	if err := os.WriteFile(keyFile, []byte("# payload keys, current first\n"+entry+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	keys, err := codec.LoadKeyring(keyFile)
	if err != nil {
		log.Fatal(err)
	}

	path := filepath.Join(dir, "claims.db")
	eng, err := chorus.Open(ctx, path, &chorus.Options{
		PayloadCodec: codec.Chain(codec.Zstd(), codec.AESGCM(keys)),
		Definitions:  []chorus.Definition{reviewClaim},
	})
	if err != nil {
		log.Fatal(err)
	}
	run, err := chorus.Start(ctx, eng, reviewClaim, Claim{Patient: "Jane Doe", Amount: 420}, &chorus.StartOptions{ID: "claim-1"})
	if err != nil {
		log.Fatal(err)
	}
	verdict, err := run.Result(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(verdict)
	if err := eng.Close(ctx); err != nil {
		log.Fatal(err)
	}

	// What the file holds: ciphertext that names its key.
	st, err := sqlite.OpenReadOnly(ctx, path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	events, err := st.Events(ctx, "claim-1", 0)
	if err != nil {
		log.Fatal(err)
	}
	id, err := codec.KeyID(events[0].Payload)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("input encrypted with key", id)
	// Output:
	// approved: Jane Doe
	// input encrypted with key 2026-12
}
