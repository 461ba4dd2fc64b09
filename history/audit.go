package history

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// AuditFormat is the format version an audit export's header names.
const AuditFormat = "chorus-audit/1"

// ErrNoChain is returned for a store that keeps no hash chain (one that
// does not implement [ChainStore]): it can be neither verified nor
// exported for audit.
var ErrNoChain = errors.New("chorus: the store keeps no hash chain")

// The domain strings of the audit digest and of a chain head's signature.
const (
	auditDigestDomain = "chorus.audit.v1\x00"
	headSigDomain     = "chorus.chain.head.sig.v1\x00"
)

// AuditOptions selects what [ExportAudit] writes.
type AuditOptions struct {
	// Runs lists the runs to export, by ID, in this order.
	Runs []string
	// Since, when not zero, adds every run whose row changed at or after
	// it (a run that was started, moved on or ended since), in ID order,
	// after the runs of Runs.
	Since time.Time
	// Key, when set, signs the document: the header then carries the
	// signature of its digest, which covers the file chain's head and
	// every exported run's head, position and last seq, and so through the
	// chain every event. Defaults to no signature.
	Key ed25519.PrivateKey
	// Now is the export time written in the header. Defaults to the zero
	// time, which is left out.
	Now time.Time
}

// AuditHeader is the first line of an audit export.
type AuditHeader struct {
	// Format is [AuditFormat].
	Format string `json:"format"`
	// ExportedAt is when the document was written, if the exporter said.
	ExportedAt *time.Time `json:"exported_at,omitempty"`
	// Selection says which runs the document holds.
	Selection AuditSelection `json:"selection"`
	// Chain is the file chain's head when the export began: how many runs
	// the file ever created, and the last link.
	Chain AuditChain `json:"chain"`
	// Runs and Events count the run and event lines that follow.
	Runs   int   `json:"runs"`
	Events int64 `json:"events"`
	// Digest is the SHA-256 digest the signature covers, in hexadecimal:
	// over "chorus.audit.v1" 0x00, the file chain head (u64 runs, 32-byte
	// hash), u64 the number of runs, then for each run in document order
	// len(runID) u64, runID, u64 pos, u64 last seq and its 32-byte head.
	// Each run's head covers its events through the chain. The signature
	// is Ed25519 over "chorus.audit.sig.v1" 0x00 and the 32 digest bytes.
	Digest string `json:"digest"`
	// Signature is set when the exporter had a key.
	Signature *AuditSignature `json:"signature,omitempty"`
}

// AuditSelection is what an export was asked for.
type AuditSelection struct {
	Runs  []string   `json:"runs,omitempty"`
	Since *time.Time `json:"since,omitempty"`
}

// AuditChain is a file chain's head in an audit export.
type AuditChain struct {
	Runs int64  `json:"runs"`
	Head string `json:"head"`
}

// AuditSignature is an Ed25519 signature of an export's digest.
type AuditSignature struct {
	// Alg is "ed25519".
	Alg string `json:"alg"`
	// PublicKey is the signer's public key, standard base64; a verifier
	// checks against the key it trusts, not this one.
	PublicKey string `json:"public_key"`
	// Sig is the signature, standard base64.
	Sig string `json:"sig"`
}

// AuditRun is a run line: it opens the run's events.
type AuditRun struct {
	Kind string `json:"kind"` // "run"
	Run  string `json:"run"`
	// Pos is the run's position in the file chain.
	Pos int64 `json:"pos"`
	// LastSeq is the Seq of the run's last event at export.
	LastSeq int64 `json:"last_seq"`
	// Head is the run's head: the chain hash of event LastSeq.
	Head string `json:"head"`
}

// AuditEvent is an event line.
type AuditEvent struct {
	Kind string `json:"kind"` // "event"
	Run  string `json:"run"`
	Seq  int64  `json:"seq"`
	// Type is the event type's name, for people; Code is what is hashed.
	Type string    `json:"type"`
	Code EventType `json:"code"`
	Name string    `json:"name,omitempty"`
	Ref  int64     `json:"ref,omitempty"`
	// Time is the event's time, UTC, to the nanosecond; absent for the
	// zero time.
	Time *time.Time `json:"time,omitempty"`
	// Payload is the payload as stored (so maybe encrypted), standard
	// base64.
	Payload []byte `json:"payload,omitempty"`
	// Actor names who acted, for an operator action note or a queued
	// input that carries an identity; the note is journaled right before
	// the event the action caused.
	Actor string `json:"actor,omitempty"`
	// Hash is the event's chain hash as stored.
	Hash string `json:"hash"`
}

// AuditStats counts what [ExportAudit] wrote.
type AuditStats struct {
	Runs   int
	Events int64
	// Head is the file chain's head written in the header.
	Head ChainHead
	// Signed is set when the document was signed.
	Signed bool
}

// runSummary is what the digest covers of one run.
type runSummary struct {
	id      string
	pos     int64
	lastSeq int64
	head    Hash
}

// auditDigest returns the digest an audit export's signature covers (see
// AuditHeader.Digest for the encoding).
func auditDigest(chain ChainHead, runs []runSummary) Hash {
	x := NewHasher()
	x.h.Reset()
	x.msg = append(x.msg[:0], auditDigestDomain...)
	x.u64(uint64(chain.Runs))
	x.msg = append(x.msg, chain.Hash[:]...)
	x.u64(uint64(len(runs)))
	for _, r := range runs {
		x.str(r.id)
		x.u64(uint64(r.pos))
		x.u64(uint64(r.lastSeq))
		x.msg = append(x.msg, r.head[:]...)
		x.h.Write(x.msg)
		x.msg = x.msg[:0]
	}
	return x.done()
}

// SignHead signs a file chain head with key: Ed25519 over
// "chorus.chain.head.sig.v1" 0x00, u64 head.Runs and the 32-byte hash. A holder of the public key
// checks it with [VerifyHeadSignature].
func SignHead(key ed25519.PrivateKey, head ChainHead) []byte {
	return ed25519.Sign(key, headMessage(head))
}

// VerifyHeadSignature reports whether sig is pub's signature of head.
func VerifyHeadSignature(pub ed25519.PublicKey, head ChainHead, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, headMessage(head), sig)
}

func headMessage(head ChainHead) []byte {
	m := binary.BigEndian.AppendUint64([]byte(headSigDomain), uint64(head.Runs))
	return append(m, head.Hash[:]...)
}

// signDigest is what the key signs of an export: the domain and the digest.
func signDigest(d Hash) []byte {
	return append([]byte("chorus.audit.sig.v1\x00"), d[:]...)
}

// ExportAudit writes an audit export of the runs opts selects, read from
// cs (and, for opts.Since, listed from st), to w: a self-contained JSON
// Lines document that [VerifyAudit] checks without the database. The
// first line is an [AuditHeader]; then, per run, an [AuditRun] line and
// its journal as [AuditEvent] lines, from seq 1, payloads as stored.
//
// Each run is read twice, once for the digest the header carries and once
// for its events, which are cut at the last seq the first read saw, so
// that a run that moves on meanwhile is exported as it was. An unknown run
// gives an error wrapping [ErrRunNotFound]; a store without a chain one
// wrapping [ErrNoChain].
func ExportAudit(ctx context.Context, st Store, w io.Writer, opts AuditOptions) (AuditStats, error) {
	cs, ok := st.(ChainStore)
	if !ok {
		return AuditStats{}, fmt.Errorf("chorus: audit export: %w (%T)", ErrNoChain, st)
	}
	if opts.Key != nil && len(opts.Key) != ed25519.PrivateKeySize {
		return AuditStats{}, fmt.Errorf("chorus: audit export: the signing key is %d bytes, want an Ed25519 private key of %d", len(opts.Key), ed25519.PrivateKeySize)
	}
	ids := append([]string(nil), opts.Runs...)
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return AuditStats{}, fmt.Errorf("chorus: audit export: run %q is asked for twice", id)
		}
		seen[id] = true
	}
	if !opts.Since.IsZero() {
		after := ""
		for {
			page, err := st.ListRuns(ctx, ListFilter{AfterID: after, Limit: 1000})
			if err != nil {
				return AuditStats{}, fmt.Errorf("chorus: audit export: list runs: %w", err)
			}
			for _, r := range page {
				if !seen[r.ID] && r.Status != StatusQueued && !r.UpdatedAt.Before(opts.Since) {
					ids = append(ids, r.ID)
					seen[r.ID] = true
				}
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].ID
		}
	}

	head, err := cs.ChainHead(ctx)
	if err != nil {
		return AuditStats{}, fmt.Errorf("chorus: audit export: %w", err)
	}
	sums := make([]runSummary, 0, len(ids))
	var events int64
	for _, id := range ids {
		r, err := cs.ReadChain(ctx, id)
		if err != nil {
			return AuditStats{}, fmt.Errorf("chorus: audit export: %w", err)
		}
		if r.NoRow {
			return AuditStats{}, fmt.Errorf("chorus: audit export: run %q has a journal but no row: run `chorus verify` on the file", id)
		}
		s := runSummary{id: id, pos: r.Pos, lastSeq: r.LastSeq}
		s.head, _ = HashFromBytes(r.Head)
		for _, e := range r.Events {
			if e.Seq <= r.LastSeq {
				events++
			}
		}
		sums = append(sums, s)
	}
	digest := auditDigest(head, sums)
	hdr := AuditHeader{
		Format: AuditFormat,
		Chain:  AuditChain{Runs: head.Runs, Head: head.Hash.String()},
		Runs:   len(sums),
		Events: events,
		Digest: digest.String(),
	}
	if !opts.Now.IsZero() {
		t := opts.Now.UTC()
		hdr.ExportedAt = &t
	}
	hdr.Selection.Runs = opts.Runs
	if !opts.Since.IsZero() {
		t := opts.Since.UTC()
		hdr.Selection.Since = &t
	}
	if opts.Key != nil {
		hdr.Signature = &AuditSignature{
			Alg:       "ed25519",
			PublicKey: base64.StdEncoding.EncodeToString(opts.Key.Public().(ed25519.PublicKey)),
			Sig:       base64.StdEncoding.EncodeToString(ed25519.Sign(opts.Key, signDigest(digest))),
		}
	}

	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(hdr); err != nil {
		return AuditStats{}, fmt.Errorf("chorus: audit export: write: %w", err)
	}
	var written int64
	for _, s := range sums {
		r, err := cs.ReadChain(ctx, s.id)
		if err != nil {
			return AuditStats{}, fmt.Errorf("chorus: audit export: %w", err)
		}
		if r.Pos != s.pos {
			return AuditStats{}, fmt.Errorf("chorus: audit export: run %q was replaced during the export; export again", s.id)
		}
		if err := enc.Encode(AuditRun{Kind: "run", Run: s.id, Pos: s.pos, LastSeq: s.lastSeq, Head: s.head.String()}); err != nil {
			return AuditStats{}, fmt.Errorf("chorus: audit export: write: %w", err)
		}
		for i := range r.Events {
			e := &r.Events[i]
			if e.Seq > s.lastSeq {
				break
			}
			if err := enc.Encode(auditEvent(s.id, e)); err != nil {
				return AuditStats{}, fmt.Errorf("chorus: audit export: write: %w", err)
			}
			written++
		}
	}
	if written != events {
		return AuditStats{}, fmt.Errorf("chorus: audit export: %d events changed during the export; export again", events-written)
	}
	if err := bw.Flush(); err != nil {
		return AuditStats{}, fmt.Errorf("chorus: audit export: write: %w", err)
	}
	return AuditStats{Runs: len(sums), Events: events, Head: head, Signed: opts.Key != nil}, nil
}

// auditEvent is the line of e.
func auditEvent(runID string, e *ChainEvent) AuditEvent {
	a := AuditEvent{Kind: "event", Run: runID, Seq: e.Seq, Type: e.Type.String(), Code: e.Type, Name: e.Name,
		Ref: e.Ref, Payload: e.Payload, Hash: fmt.Sprintf("%x", e.Hash)}
	if !e.Time.IsZero() {
		t := e.Time.UTC()
		a.Time = &t
	}
	switch e.Type {
	case EventOperatorAction:
		if op, err := DecodeOperatorAction(e.Payload); err == nil {
			a.Actor = op.Identity
		}
	case EventInputQueued:
		if q, err := DecodeInputQueued(e.Payload); err == nil {
			a.Actor = q.Identity
		}
	}
	return a
}

// AuditReport is what [VerifyAudit] found.
type AuditReport struct {
	// Runs and Events count the run and event lines read.
	Runs   int   `json:"runs"`
	Events int64 `json:"events"`
	// Head is the file chain head the header records.
	Head string `json:"head"`
	// Signed is set when the header carries a signature; Checked when it
	// was checked against the key given (and held).
	Signed  bool `json:"signed"`
	Checked bool `json:"signature_checked"`
	// Damage lists the first break of each run, and what is wrong with
	// the document as a whole. Empty for a document that verifies.
	Damage []AuditDamage `json:"damage"`
}

// OK reports whether the document verified.
func (r *AuditReport) OK() bool { return len(r.Damage) == 0 }

// AuditDamage is a break found in an audit export.
type AuditDamage struct {
	// Line is the document's line (from 1) where the break shows: the
	// edited or inserted event's, the line after a deleted one; 0 for the
	// document as a whole.
	Line int `json:"line,omitempty"`
	ChainDamage
}

func (d AuditDamage) String() string {
	if d.Line > 0 {
		return fmt.Sprintf("line %d: %s", d.Line, d.ChainDamage.String())
	}
	return d.ChainDamage.String()
}

// The kinds of damage only an audit export has.
const (
	// DamageMalformed: a line is not what the format says.
	DamageMalformed DamageKind = "malformed"
	// DamageSignature: the signature is missing, malformed or not the
	// trusted key's signature of the document.
	DamageSignature DamageKind = "signature"
)

// maxAuditLine bounds one line of an audit export (a payload is at most a
// few megabytes; base64 grows it by a third).
const maxAuditLine = 64 << 20

// VerifyAudit re-computes the chains of an audit export from the document
// alone and reports the first break of each run: an event line edited,
// inserted, deleted or moved; a run line edited or removed; counts that do
// not match the header. With pub set, the header must carry pub's
// signature of the document's digest, re-computed from its run lines;
// otherwise a signature is reported (Signed) but not checked. The error is
// for a document that cannot be read at all (no header, not this format,
// a failing reader); everything else is in the report.
func VerifyAudit(r io.Reader, pub ed25519.PublicKey) (AuditReport, error) {
	if pub != nil && len(pub) != ed25519.PublicKeySize {
		return AuditReport{}, fmt.Errorf("chorus: verify audit: the public key is %d bytes, want an Ed25519 key of %d", len(pub), ed25519.PublicKeySize)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxAuditLine)
	rep := AuditReport{Damage: []AuditDamage{}}
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return rep, fmt.Errorf("chorus: verify audit: read: %w", err)
		}
		return rep, fmt.Errorf("chorus: verify audit: the document is empty")
	}
	var hdr AuditHeader
	if err := json.Unmarshal(sc.Bytes(), &hdr); err != nil || hdr.Format != AuditFormat {
		return rep, fmt.Errorf("chorus: verify audit: line 1 is not a %s header", AuditFormat)
	}
	rep.Head = hdr.Chain.Head
	var chain ChainHead
	chain.Runs = hdr.Chain.Runs
	if h, err := ParseHash(hdr.Chain.Head); err == nil {
		chain.Hash = h
	} else {
		rep.Damage = append(rep.Damage, AuditDamage{Line: 1, ChainDamage: ChainDamage{Kind: DamageMalformed, Detail: "the header's chain head: " + err.Error()}})
	}

	x := NewHasher()
	var sums []runSummary
	var cur *ChainRun
	var lines []int // the line of each event of cur
	var runLine int
	bad := map[string]bool{} // runs with damage already reported
	dmg := func(line int, run string, seq int64, k DamageKind, format string, args ...any) {
		rep.Damage = append(rep.Damage, AuditDamage{Line: line, ChainDamage: ChainDamage{RunID: run, Seq: seq, Kind: k, Detail: fmt.Sprintf(format, args...)}})
		if run != "" {
			bad[run] = true
		}
	}
	finish := func(next int) {
		if cur == nil || bad[cur.RunID] {
			return
		}
		d := x.VerifyRun(cur)
		if d == nil {
			return
		}
		// The line: the first event out of place or off the chain.
		line := next
		var prev Hash
		for i := range cur.Events {
			e := &cur.Events[i]
			h := x.Event(prev, cur.RunID, &e.Event)
			if e.Seq != int64(i)+1 || !bytes.Equal(h[:], e.Hash) {
				line = lines[i]
				break
			}
			prev = h
		}
		if d.Seq == 0 {
			line = runLine
		}
		rep.Damage = append(rep.Damage, AuditDamage{Line: line, ChainDamage: *d})
		bad[cur.RunID] = true
	}
	n := 1
	for sc.Scan() {
		n++
		var kind struct {
			Kind string `json:"kind"`
		}
		b := sc.Bytes()
		if err := json.Unmarshal(b, &kind); err != nil {
			dmg(n, "", 0, DamageMalformed, "not a JSON object: %v", err)
			continue
		}
		switch kind.Kind {
		case "run":
			var ar AuditRun
			if err := json.Unmarshal(b, &ar); err != nil {
				dmg(n, "", 0, DamageMalformed, "run line: %v", err)
				continue
			}
			finish(n)
			rep.Runs++
			h, err := ParseHash(ar.Head)
			if err != nil {
				dmg(n, ar.Run, 0, DamageMalformed, "run head: %v", err)
			}
			sums = append(sums, runSummary{id: ar.Run, pos: ar.Pos, lastSeq: ar.LastSeq, head: h})
			cur = &ChainRun{RunID: ar.Run, Pos: ar.Pos, LastSeq: ar.LastSeq, Head: h[:]}
			lines, runLine = lines[:0], n
		case "event":
			var ae AuditEvent
			if err := json.Unmarshal(b, &ae); err != nil {
				dmg(n, "", 0, DamageMalformed, "event line: %v", err)
				continue
			}
			rep.Events++
			if cur == nil || ae.Run != cur.RunID {
				if !bad[ae.Run] {
					dmg(n, ae.Run, ae.Seq, DamageDeleted, "the event is not under its run's line (the run line was removed, or the event moved)")
				}
				continue
			}
			ce := ChainEvent{Event: Event{Seq: ae.Seq, Type: ae.Code, Name: ae.Name, Ref: ae.Ref, Payload: ae.Payload}}
			if ae.Time != nil {
				ce.Time = *ae.Time
			}
			if ae.Hash != "" {
				if h, err := ParseHash(ae.Hash); err == nil {
					ce.Hash = h[:]
				}
			}
			cur.Events = append(cur.Events, ce)
			lines = append(lines, n)
		default:
			dmg(n, "", 0, DamageMalformed, "unknown line kind %q", kind.Kind)
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("chorus: verify audit: read line %d: %w", n+1, err)
	}
	finish(n + 1)
	if rep.Runs != hdr.Runs || rep.Events != hdr.Events {
		dmg(0, "", 0, DamageDeleted, "the header counts %d runs and %d events, the document holds %d and %d", hdr.Runs, hdr.Events, rep.Runs, rep.Events)
	}
	digest := auditDigest(chain, sums)
	if digest.String() != hdr.Digest {
		dmg(1, "", 0, DamageHead, "the header's digest does not match the run lines (a run line was edited, added or removed)")
	}
	rep.Signed = hdr.Signature != nil
	if pub != nil {
		switch s := hdr.Signature; {
		case s == nil:
			dmg(1, "", 0, DamageSignature, "the document is not signed")
		case s.Alg != "ed25519":
			dmg(1, "", 0, DamageSignature, "the signature's algorithm is %q, want ed25519", s.Alg)
		default:
			sig, err := base64.StdEncoding.DecodeString(s.Sig)
			if err != nil || !ed25519.Verify(pub, signDigest(digest), sig) {
				dmg(1, "", 0, DamageSignature, "the signature is not the given key's signature of this document")
			} else {
				rep.Checked = true
			}
		}
	}
	return rep, nil
}
