package cli

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
)

// signedHeadFormat names the document `audit head` writes.
const signedHeadFormat = "chorus-head/1"

// signedHead is a file chain head signed with an Ed25519 key
// (history.SignHead).
type signedHead struct {
	Format    string    `json:"format"`
	SignedAt  time.Time `json:"signed_at"`
	Runs      int64     `json:"runs"`
	Head      string    `json:"head"`
	PublicKey string    `json:"public_key"`
	Sig       string    `json:"sig"`
}

func auditHeadCmd() *cobra.Command {
	var keyFile, out string
	cmd := &cobra.Command{
		Use:   "head FILE --key KEY.pem [-o HEAD.json]",
		Short: "Sign the file chain's head, so that a later verify proves no run up to now was deleted or changed",
		Long: `audit head signs the file's chain head (how many runs the file ever created
and the chain's last link) with an Ed25519 private key and writes it as JSON.
Kept apart from the file (sent to an auditor, stored elsewhere), it lets
'chorus verify FILE --pubkey KEY.pub --head HEAD.json' prove later that the
file's chain still passes through that head: no run created up to the
signing was deleted, renamed or replaced, even by someone who recomputed
every hash.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return usagef("audit head: --key is required")
			}
			key, err := readPrivateKey(keyFile)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := open(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			cs, ok := st.(history.ChainStore)
			if !ok {
				return fmt.Errorf("audit head: %s: %w", display(args[0]), history.ErrNoChain)
			}
			head, err := cs.ChainHead(ctx)
			if err != nil {
				return err
			}
			v := signedHead{Format: signedHeadFormat, SignedAt: time.Now().UTC(), Runs: head.Runs, Head: head.Hash.String(),
				PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
				Sig:       base64.StdEncoding.EncodeToString(history.SignHead(key, head))}
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			b = append(b, '\n')
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return fmt.Errorf("audit head: %w", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d runs, head %s, signed\n", out, v.Runs, v.Head)
			return err
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the Ed25519 private key to sign with (PEM, PKCS #8)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file (default: standard output)")
	return cmd
}

// readSignedHead reads a signed head and checks its signature with pub.
func readSignedHead(path string, pub ed25519.PublicKey) (history.ChainHead, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return history.ChainHead{}, &usageError{fmt.Errorf("--head: %w", err)}
	}
	var v signedHead
	if err := json.Unmarshal(b, &v); err != nil || v.Format != signedHeadFormat {
		return history.ChainHead{}, &usageError{fmt.Errorf("--head: %s is not a %s document ('chorus audit head')", path, signedHeadFormat)}
	}
	h, err := history.ParseHash(v.Head)
	if err != nil {
		return history.ChainHead{}, &usageError{fmt.Errorf("--head: %s: %w", path, err)}
	}
	head := history.ChainHead{Runs: v.Runs, Hash: h}
	sig, err := base64.StdEncoding.DecodeString(v.Sig)
	if err != nil || !history.VerifyHeadSignature(pub, head, sig) {
		return history.ChainHead{}, fmt.Errorf("verify: refused: %s is not signed by the given public key", path)
	}
	return head, nil
}
