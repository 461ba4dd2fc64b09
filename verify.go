package chorus

import (
	"context"
	"fmt"
	"io"

	"github.com/chorusdev/chorus/history"
)

// VerifyReport is the result of [Engine.Verify]: per run, the first event
// found edited, inserted, deleted or moved, and any run missing from the
// file chain. See [history.VerifyReport].
type VerifyReport = history.VerifyReport

// ErrVerifyUnsupported is returned by [Engine.Verify] and
// [Engine.ExportAudit] when the engine's store keeps no hash chain: one
// that does not implement [history.ChainStore], such as the PostgreSQL
// store (history/postgres). It is [history.ErrNoChain].
var ErrVerifyUnsupported = history.ErrNoChain

// Verify re-computes the journal's hash chains from the stored events and
// reports where they break: every event carries a SHA-256 hash linked to
// the previous event of its run, and every run a place in the file's chain,
// so an event edited, inserted or deleted behind the engine's back, and a
// run deleted whole, are named (runs purged by retention are accounted for
// by their recorded heads). Verification needs no key: it hashes payloads
// as stored, encrypted or not. The error is for a failure to read the
// store; damage is in the report ([history.VerifyReport.OK]).
func (e *Engine) Verify(ctx context.Context) (VerifyReport, error) {
	cs, ok := e.store.(history.ChainStore)
	if !ok {
		return VerifyReport{}, fmt.Errorf("chorus: verify: %w (%T)", ErrVerifyUnsupported, e.store)
	}
	return cs.VerifyChains(ctx)
}

// AuditOptions selects the runs [Engine.ExportAudit] writes; see
// [history.AuditOptions].
type AuditOptions = history.AuditOptions

// ExportAudit writes an audit export of the runs opts selects to w: a
// self-contained JSON Lines document holding, per run, its journal with
// payloads as stored (encrypted ones stay encrypted), the actors that
// operator notes name, and every event's chain hash, under a header that
// carries the file chain's head and, when opts.Key is set, an Ed25519
// signature. [history.VerifyAudit] (or `chorus verify --export`) checks it
// without the database. A store that keeps no hash chain gives an error
// wrapping [ErrVerifyUnsupported].
func (e *Engine) ExportAudit(ctx context.Context, w io.Writer, opts AuditOptions) (history.AuditStats, error) {
	if _, ok := e.store.(history.ChainStore); !ok {
		return history.AuditStats{}, fmt.Errorf("chorus: audit export: %w (%T)", ErrVerifyUnsupported, e.store)
	}
	if opts.Now.IsZero() {
		opts.Now = e.core.Clock().Now()
	}
	return history.ExportAudit(ctx, e.store, w, opts)
}
