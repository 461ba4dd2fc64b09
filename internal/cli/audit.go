package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
)

func auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Export runs for audit and make the keys that sign exports",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("audit: a subcommand is required (export, head or keygen)")
		},
	}
	cmd.AddCommand(auditExportCmd(), auditHeadCmd(), auditKeygenCmd())
	return cmd
}

// auditExportView is what `audit export` prints when it wrote to a file.
type auditExportView struct {
	Out    string `json:"out"`
	Runs   int    `json:"runs"`
	Events int64  `json:"events"`
	Head   string `json:"head"`
	Signed bool   `json:"signed"`
}

func auditExportCmd() *cobra.Command {
	var runs []string
	var since, out, keyFile string
	cmd := &cobra.Command{
		Use:   "export FILE (--run ID ... | --since TIME) [-o OUT.jsonl] [--key KEY.pem]",
		Short: "Write runs' journals, actors and chain hashes as a self-contained JSON Lines document",
		Long: `audit export writes the journal of the runs selected (--run, repeatable,
and/or --since: every run whose row changed at or after TIME, RFC 3339 or a
date) as JSON Lines: a header line (format, the file chain's head, the digest
of the runs' heads and, with --key, its Ed25519 signature), then per run a run
line (its place in the file chain, last seq and head) followed by its events
(seq, type, name, time, payload as stored in base64, so maybe encrypted, the
actor of operator actions, and the chain hash). A third party checks it with
'chorus verify --export OUT.jsonl [--pubkey KEY.pub]', without the database.

The key is an Ed25519 private key in PEM (PKCS #8), such as 'chorus audit
keygen' or 'openssl genpkey -algorithm ed25519' make.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(runs) == 0 && since == "" {
				return usagef("audit export: --run or --since is required")
			}
			opts := history.AuditOptions{Runs: runs, Now: time.Now()}
			if since != "" {
				t, err := parseAuditTime(since)
				if err != nil {
					return usagef("audit export: --since: %v", err)
				}
				opts.Since = t
			}
			if keyFile != "" {
				k, err := readPrivateKey(keyFile)
				if err != nil {
					return err
				}
				opts.Key = k
			}
			ctx := cmd.Context()
			st, err := open(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			if _, ok := st.(history.ChainStore); !ok {
				return fmt.Errorf("audit export: %s: %w", display(args[0]), history.ErrNoChain)
			}
			w := cmd.OutOrStdout()
			var f *os.File
			if out != "" && out != "-" {
				if f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
					return fmt.Errorf("audit export: %w", err)
				}
				w = f
			}
			stats, err := history.ExportAudit(ctx, st, w, opts)
			if f != nil {
				if cerr := f.Close(); err == nil && cerr != nil {
					err = fmt.Errorf("audit export: %w", cerr)
				}
				if err != nil {
					_ = os.Remove(out)
				}
			}
			if err != nil || f == nil {
				return err
			}
			v := auditExportView{Out: out, Runs: stats.Runs, Events: stats.Events, Head: stats.Head.Hash.String(), Signed: stats.Signed}
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			signed := "unsigned"
			if v.Signed {
				signed = "signed"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d runs, %d events, file chain head %s, %s\n", out, v.Runs, v.Events, v.Head, signed)
			return err
		},
	}
	cmd.Flags().StringArrayVar(&runs, "run", nil, "export this run (repeatable)")
	cmd.Flags().StringVar(&since, "since", "", "export every run that changed at or after this time (RFC 3339, or YYYY-MM-DD in UTC)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the document to this file (default: standard output)")
	cmd.Flags().StringVar(&keyFile, "key", "", "sign the document with this Ed25519 private key (PEM, PKCS #8)")
	return cmd
}

// parseAuditTime reads an RFC 3339 time or a UTC date.
func parseAuditTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a YYYY-MM-DD date", s)
}

func auditKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen PREFIX",
		Short: "Make an Ed25519 key pair for signing exports: PREFIX.key (private) and PREFIX.pub",
		Long: `audit keygen writes a new Ed25519 private key to PREFIX.key (PEM, PKCS #8,
mode 0600) and its public key to PREFIX.pub (PEM, PKIX). It refuses to
overwrite either file. Give PREFIX.key to 'chorus audit export --key' and
PREFIX.pub to whoever verifies the exports.`,
		Args: exactArgs(1, "PREFIX"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return fmt.Errorf("audit keygen: %w", err)
			}
			p8, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				return fmt.Errorf("audit keygen: %w", err)
			}
			pk, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				return fmt.Errorf("audit keygen: %w", err)
			}
			keyPath, pubPath := args[0]+".key", args[0]+".pub"
			if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600); err != nil {
				return err
			}
			if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk}), 0o644); err != nil {
				_ = os.Remove(keyPath)
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", keyPath, pubPath)
			return err
		},
	}
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("audit keygen: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("audit keygen: %w", err)
	}
	return f.Close()
}

// readPEM reads the one PEM block of type typ in file path.
func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block: want a %q block", path, typ)
	}
	if blk.Type != typ {
		return nil, fmt.Errorf("%s: PEM block %q, want %q", path, blk.Type, typ)
	}
	return blk.Bytes, nil
}

// readPrivateKey reads an Ed25519 private key (PEM, PKCS #8).
func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, &usageError{fmt.Errorf("--key: %w", err)}
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, &usageError{fmt.Errorf("--key: %s: %w", path, err)}
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, &usageError{fmt.Errorf("--key: %s holds a %T, want an Ed25519 key", path, k)}
	}
	return ek, nil
}

// readPublicKey reads an Ed25519 public key (PEM, PKIX).
func readPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, &usageError{fmt.Errorf("--pubkey: %w", err)}
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, &usageError{fmt.Errorf("--pubkey: %s: %w", path, err)}
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, &usageError{fmt.Errorf("--pubkey: %s holds a %T, want an Ed25519 key", path, k)}
	}
	return ek, nil
}

// verifyExport checks an audit export and prints the report.
func verifyExport(cmd *cobra.Command, path, pubFile string) error {
	var pub ed25519.PublicKey
	if pubFile != "" {
		var err error
		if pub, err = readPublicKey(pubFile); err != nil {
			return err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	rep, err := history.VerifyAudit(f, pub)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if jsonFlag(cmd) {
		err = writeJSON(out, struct {
			Export string `json:"export"`
			history.AuditReport
			OK bool `json:"ok"`
		}{path, rep, rep.OK()})
	} else {
		err = printAuditReport(out, path, &rep)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errDamaged
	}
	return nil
}

func printAuditReport(w io.Writer, path string, rep *history.AuditReport) error {
	t := newTable(w, "CHECK", "RESULT")
	t.row("export", path)
	t.row("runs", fmt.Sprint(rep.Runs))
	t.row("events", fmt.Sprint(rep.Events))
	t.row("file chain head", rep.Head)
	sig := "none"
	switch {
	case rep.Checked:
		sig = "ok (the given key's)"
	case rep.Signed:
		sig = "present, not checked (no --pubkey)"
	}
	for _, d := range rep.Damage {
		if d.Kind == history.DamageSignature {
			sig = "REFUSED: " + d.Detail
		}
	}
	t.row("signature", sig)
	if err := t.flush(); err != nil {
		return err
	}
	if len(rep.Damage) > 0 {
		fmt.Fprintln(w)
		t = newTable(w, "LINE", "RUN", "SEQ", "CHAIN", "DETAIL")
		for _, d := range rep.Damage {
			line, seq := "", ""
			if d.Line != 0 {
				line = fmt.Sprint(d.Line)
			}
			if d.Seq != 0 {
				seq = fmt.Sprint(d.Seq)
			}
			t.row(line, d.RunID, seq, string(d.Kind), d.Detail)
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, "\nDAMAGED: see above")
		return nil
	}
	_, err := fmt.Fprintln(w, "\nOK: the export verifies")
	return err
}
