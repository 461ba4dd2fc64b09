package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
)

// verifyView is what `verify` prints.
type verifyView struct {
	File      string   `json:"file"`
	Integrity string   `json:"integrity_check"` // "ok", SQLite's report, or "not checked: ..." on PostgreSQL
	Runs      int      `json:"runs"`
	Events    int64    `json:"events_read"`
	Tasks     int      `json:"tasks"`
	Damage    []damage `json:"damage"`
	// Chain is the re-computed hash chain: per run, the first event
	// edited, inserted, deleted or moved, and runs missing from the file.
	// It is nil for a store that keeps no chain (PostgreSQL), which
	// NotChecked then names.
	Chain *history.VerifyReport `json:"chain,omitempty"`
	// NotChecked says what verify could not check on this store.
	NotChecked []string `json:"not_checked,omitempty"`
	OK         bool     `json:"ok"`
}

// What verify does not check on a PostgreSQL database.
const (
	pgNoIntegrity = "not checked"
	pgIntegrity   = "integrity: PostgreSQL checks its own pages (data checksums, when the cluster was initialized with them)"
	pgNoChecksums = "row checksums: the PostgreSQL store keeps none; each row is checked for values a run cannot hold and each journal for gaps"
	pgNoChain     = "hash chain: the PostgreSQL store keeps none"
)

// damage is one damaged row.
type damage struct {
	Run   string `json:"run"`
	Table string `json:"table"` // runs, events or tasks
	Seq   int64  `json:"seq,omitempty"`
	// LastSeq is, for a journal with more than one damaged event, the
	// last of them (events between Seq and LastSeq may be intact).
	LastSeq int64  `json:"last_seq,omitempty"`
	Error   string `json:"error"`
}

func verifyCmd() *cobra.Command {
	var export, pubkey, headFile string
	cmd := &cobra.Command{
		Use:   "verify FILE [--pubkey KEY.pub --head HEAD.json] | verify --export DOC.jsonl [--pubkey KEY.pub]",
		Short: "Check the file's integrity, every row's checksum and the journal's hash chain; exit status 1 on damage",
		Long: `verify runs SQLite's integrity check on the file, then reads every run's row,
journal and pending tasks and checks each row's checksum. It reports each
damaged row by run and seq and exits with status 1 when it found any. For a
journal with several damaged events, SEQ shows the first and the last
("3…8"); the events between them may be intact.

It then re-computes the hash chain that makes the journal tamper-evident
(each event's SHA-256 hash links to the previous event of its run, and each
run has a place in the file's chain) and reports, per run, the first event
edited, inserted, deleted or reordered, and any run deleted whole. Runs
purged by retention are accounted for by their recorded heads. No key is
needed: payloads are hashed as stored.

With --export, it checks an audit export ('chorus audit export') instead,
from the document alone: it re-computes each run's chain and reports the
line, run and seq of the first event edited, inserted or deleted, and a run
line edited or removed. With --pubkey (an Ed25519 public key, PEM), the
document must carry that key's signature, or it is refused.

With --pubkey and --head (a head signed by 'chorus audit head'), it checks
the head's signature, refusing one the key did not sign, and that the
file's chain still passes through it: no run created up to the signing was
deleted, renamed or replaced since, even with every hash recomputed.`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case export != "" && len(args) > 0:
				return usagef("verify: give FILE or --export, not both")
			case export != "" && headFile != "":
				return usagef("verify: --head goes with a FILE, not --export")
			case export != "":
				return nil
			case (pubkey != "") != (headFile != ""):
				return usagef("verify: --pubkey with a FILE checks a signed head: give --head too (or --export for an audit export)")
			}
			return exactArgs(1, "FILE")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if export != "" {
				return verifyExport(cmd, export, pubkey)
			}
			var past *history.ChainHead
			if headFile != "" {
				pub, err := readPublicKey(pubkey)
				if err != nil {
					return err
				}
				h, err := readSignedHead(headFile, pub)
				if err != nil {
					return err
				}
				past = &h
			}
			ctx := cmd.Context()
			st, err := open(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			v := &verifyView{File: display(args[0]), Integrity: "ok", Damage: []damage{}}
			if ic, ok := st.(interface{ IntegrityCheck(context.Context) error }); ok {
				if err := ic.IntegrityCheck(ctx); err != nil {
					v.Integrity = err.Error()
				}
			} else {
				v.Integrity = pgNoIntegrity
				v.NotChecked = append(v.NotChecked, pgIntegrity, pgNoChecksums)
			}
			runs, err := st.ListRuns(ctx, history.ListFilter{})
			if err != nil {
				return err
			}
			v.Runs = len(runs)
			for _, r := range runs {
				if r.Damaged != nil {
					v.Damage = append(v.Damage, damage{Run: r.ID, Table: "runs", Error: r.Damaged.Error()})
				}
				events, err := st.Events(ctx, r.ID, 0)
				v.Events += int64(len(events))
				if err != nil {
					d := damage{Run: r.ID, Table: "events", Seq: firstDamaged(err), LastSeq: lastDamaged(ctx, st, r), Error: err.Error()}
					if d.Seq == 0 || d.LastSeq == d.Seq {
						d.Seq, d.LastSeq = max(d.Seq, d.LastSeq), 0
					}
					v.Damage = append(v.Damage, d)
				}
			}
			tasks, err := st.Tasks(ctx)
			if err != nil {
				v.Damage = append(v.Damage, damage{Table: "tasks", Error: err.Error()})
			}
			v.Tasks = len(tasks)
			for _, t := range tasks {
				if t.Damaged != nil {
					v.Damage = append(v.Damage, damage{Run: t.RunID, Table: "tasks", Seq: t.Step, Error: t.Damaged.Error()})
				}
			}
			cs, chained := st.(history.ChainStore)
			var rep history.VerifyReport
			switch {
			case past != nil:
				through, ok := st.(interface {
					VerifyChainsThrough(context.Context, history.ChainHead) (history.VerifyReport, error)
				})
				if !ok {
					return fmt.Errorf("verify --head: %s: %w", display(args[0]), history.ErrNoChain)
				}
				rep, err = through.VerifyChainsThrough(ctx, *past)
			case chained:
				rep, err = cs.VerifyChains(ctx)
			default:
				v.NotChecked = append(v.NotChecked, pgNoChain)
			}
			if err != nil {
				return err
			}
			if past != nil || chained {
				v.Chain = &rep
			}
			v.OK = (v.Integrity == "ok" || v.Integrity == pgNoIntegrity) && len(v.Damage) == 0 && (v.Chain == nil || v.Chain.OK())
			out := cmd.OutOrStdout()
			if jsonFlag(cmd) {
				err = writeJSON(out, v)
			} else {
				err = v.print(out)
			}
			if err != nil {
				return err
			}
			if !v.OK {
				return errDamaged
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&export, "export", "", "verify this audit export instead of a database file")
	cmd.Flags().StringVar(&pubkey, "pubkey", "", "require this Ed25519 public key's signature (PEM) of the --export document or the --head")
	cmd.Flags().StringVar(&headFile, "head", "", "with FILE and --pubkey: a signed head ('chorus audit head') the file's chain must pass through")
	return cmd
}

// eventSeq finds the seq in the store's error for a damaged event.
var eventSeq = regexp.MustCompile(`, event (\d+)`)

// firstDamaged returns the seq that the error of a whole read of a journal
// names: its first damaged event, or 0 when it names none.
func firstDamaged(err error) int64 {
	m := eventSeq.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// lastDamaged finds the highest damaged seq of run r's journal (the error
// of a whole read names the first). Reading from after seq s succeeds
// exactly when no event past s is damaged, so a binary search over s finds
// it. It returns 0 when the search cannot tell.
func lastDamaged(ctx context.Context, st history.Store, r history.RunInfo) int64 {
	lo, hi := int64(0), r.LastSeq // reading after lo fails, after hi succeeds
	if _, err := st.Events(ctx, r.ID, hi); err != nil {
		return 0
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if _, err := st.Events(ctx, r.ID, mid); err != nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func (v *verifyView) print(w io.Writer) error {
	t := newTable(w, "CHECK", "RESULT")
	t.row("integrity", v.Integrity)
	t.row("runs", strconv.Itoa(v.Runs))
	t.row("events read", strconv.FormatInt(v.Events, 10))
	t.row("tasks", strconv.Itoa(v.Tasks))
	t.row("damaged rows", strconv.Itoa(len(v.Damage)))
	if v.Chain != nil {
		t.row("hash chain", chainResult(v.Chain))
	} else {
		t.row("hash chain", "not checked")
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(v.Damage) > 0 {
		fmt.Fprintln(w)
		t = newTable(w, "RUN", "TABLE", "SEQ", "ERROR")
		for _, d := range v.Damage {
			seq := ""
			if d.Seq != 0 {
				seq = strconv.FormatInt(d.Seq, 10)
			}
			if d.LastSeq != 0 {
				seq += "…" + strconv.FormatInt(d.LastSeq, 10)
			}
			t.row(d.Run, d.Table, seq, d.Error)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(v.NotChecked) > 0 {
		fmt.Fprintln(w, "\nNot checked on this store:")
		for _, n := range v.NotChecked {
			fmt.Fprintln(w, "  "+n)
		}
	}
	if v.Chain != nil && len(v.Chain.Damage) > 0 {
		fmt.Fprintln(w)
		t = newTable(w, "RUN", "SEQ", "CHAIN", "DETAIL")
		for _, d := range v.Chain.Damage {
			seq := ""
			if d.Seq != 0 {
				seq = strconv.FormatInt(d.Seq, 10)
			}
			t.row(d.RunID, seq, string(d.Kind), d.Detail)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if v.OK {
		fmt.Fprintln(w, "\nOK: no damage found")
	} else {
		fmt.Fprintln(w, "\nDAMAGED: see above")
	}
	return nil
}

// chainResult sums up a chain verification in one cell.
func chainResult(r *history.VerifyReport) string {
	s := fmt.Sprintf("%d runs, %d events", r.Runs, r.Events)
	if r.Purged > 0 {
		s += fmt.Sprintf(", %d purged", r.Purged)
	}
	if r.OK() {
		return s + ", ok (head " + r.Head + ")"
	}
	return s + fmt.Sprintf(", %d broken", len(r.Damage))
}
