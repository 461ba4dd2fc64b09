package history

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"
)

// Hash is a link of the journal's hash chain: a SHA-256 digest.
type Hash [sha256.Size]byte

// String returns the hash in lower-case hexadecimal.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the zero hash, the "previous hash" of the
// first event of a run and of the first run of a file.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash decodes a hash from its hexadecimal form ([Hash.String]).
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("chorus: invalid chain hash %q: want %d hexadecimal digits", s, 2*len(h))
	}
	copy(h[:], b)
	return h, nil
}

// HashFromBytes returns b as a Hash and whether it has the right length.
func HashFromBytes(b []byte) (Hash, bool) {
	var h Hash
	if len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// The domain strings that start every hashed message, so that an event
// link can never be taken for a run link, and a later version of the
// encoding for this one.
const (
	chainEventDomain = "chorus.chain.event.v1\x00"
	chainRunDomain   = "chorus.chain.run.v1\x00"
)

// Hasher computes chain hashes without allocating. The zero value is not
// usable: call [NewHasher]. A Hasher is not safe for concurrent use; stores
// keep one for their single writer.
//
// # The canonical encoding
//
// The hash of an event is SHA-256 over these bytes, in order (integers are
// big-endian, lengths are unsigned 64-bit byte counts):
//
//	"chorus.chain.event.v1" 0x00          domain
//	prev                      32 bytes    hash of the previous event of the
//	                                      run (all zero for seq 1)
//	len(runID) u64, runID                 the run's ID, UTF-8
//	seq        i64
//	type       u8
//	len(name)  u64, name
//	ref        i64
//	len(payload) u64, payload             the payload as stored (encoded by
//	                                      the engine's codecs, so a chain
//	                                      verifies without any key)
//	time       u8 0 for the zero time, or u8 1 then i64 Unix nanoseconds
//
// Each run's events form one chain, in Seq order; the events of earlier
// runs under a reused ID stay in it. The hash of a run's last event is the
// run's head.
//
// The file chain links the runs of a file in the order they were created:
// link n is SHA-256 over "chorus.chain.run.v1" 0x00, link n-1 (all zero
// for the first run), u64 n, len(runID) u64 and runID. Its last link is the
// file's head: deleting a whole run breaks it.
type Hasher struct {
	h   hash.Hash
	msg []byte // the message being hashed, but for the payload
	sum [sha256.Size]byte
}

// NewHasher returns a Hasher.
func NewHasher() *Hasher { return &Hasher{h: sha256.New(), msg: make([]byte, 0, 256)} }

func (x *Hasher) u64(v uint64) { x.msg = binary.BigEndian.AppendUint64(x.msg, v) }

func (x *Hasher) str(s string) {
	x.u64(uint64(len(s)))
	x.msg = append(x.msg, s...)
}

func (x *Hasher) done() Hash {
	x.h.Write(x.msg)
	var out Hash
	x.h.Sum(x.sum[:0])
	copy(out[:], x.sum[:])
	return out
}

// Event returns the hash of e, the event of run runID that follows the
// event whose hash is prev.
func (x *Hasher) Event(prev Hash, runID string, e *Event) Hash {
	x.h.Reset()
	x.msg = append(x.msg[:0], chainEventDomain...)
	x.msg = append(x.msg, prev[:]...)
	x.str(runID)
	x.u64(uint64(e.Seq))
	x.msg = append(x.msg, byte(e.Type))
	x.str(e.Name)
	x.u64(uint64(e.Ref))
	x.u64(uint64(len(e.Payload)))
	x.h.Write(x.msg)
	x.h.Write(e.Payload)
	x.msg = x.msg[:0]
	if e.Time.IsZero() {
		x.msg = append(x.msg, 0)
	} else {
		x.msg = append(x.msg, 1)
		x.u64(uint64(e.Time.UnixNano()))
	}
	return x.done()
}

// Run returns link pos of the file chain, for run runID, following link
// prev.
func (x *Hasher) Run(prev Hash, pos int64, runID string) Hash {
	x.h.Reset()
	x.msg = append(x.msg[:0], chainRunDomain...)
	x.msg = append(x.msg, prev[:]...)
	x.u64(uint64(pos))
	x.str(runID)
	return x.done()
}

// HashEvent returns the chain hash of e, the event of run runID that
// follows the event whose hash is prev (see [Hasher] for the encoding).
func HashEvent(prev Hash, runID string, e *Event) Hash {
	return NewHasher().Event(prev, runID, e)
}

// HashRun returns link pos of a file chain (see [Hasher]).
func HashRun(prev Hash, pos int64, runID string) Hash {
	return NewHasher().Run(prev, pos, runID)
}

// ChainHead is what a store records of its file chain: how many runs it
// links and its last link.
type ChainHead struct {
	// Runs is the number of runs ever created in the file, purged ones
	// included.
	Runs int64
	// Hash is the file chain's last link (zero when Runs is 0).
	Hash Hash
}

// ChainEvent is a journal event as stored, with its stored chain hash.
type ChainEvent struct {
	Event
	// Hash is the stored hash; nil when the row has none.
	Hash []byte
}

// ChainRun is one run of a file as a store holds it, for verification and
// export: its place in the file chain, its head and its journal, read
// without any check.
type ChainRun struct {
	// RunID is the run's ID.
	RunID string
	// Pos is the run's position in the file chain, from 1; 0 when its row
	// has none (a row inserted by hand, or no row at all).
	Pos int64
	// NoRow is set when the journal has events under RunID but there is no
	// run row.
	NoRow bool
	// LastSeq is the Seq of the last event as the run row records it.
	LastSeq int64
	// Head is the run row's stored head (the hash of its last event); nil
	// when the row has none.
	Head []byte
	// Purged is set for a run that retention deleted: only its Pos, RunID,
	// LastSeq and Head remain.
	Purged bool
	// Events is the journal in the order of the stored Seqs.
	Events []ChainEvent
}

// DamageKind says how a chain was broken.
type DamageKind string

// The kinds of damage verification names.
const (
	// DamageEdited: the event at Seq was changed after it was written.
	DamageEdited DamageKind = "edited"
	// DamageInserted: the event at Seq was not written by the engine.
	DamageInserted DamageKind = "inserted"
	// DamageDeleted: the event at Seq (and maybe later ones) was removed;
	// for a run with Seq 0, the whole run was.
	DamageDeleted DamageKind = "deleted"
	// DamageReordered: the events at Seq and Seq+1 were swapped.
	DamageReordered DamageKind = "reordered"
	// DamageHead: the run's or the file's recorded head was changed.
	DamageHead DamageKind = "head"
)

// ChainDamage is the first break found in one run's chain, or in the file
// chain.
type ChainDamage struct {
	// RunID is the damaged run; empty when the run is unknown (a whole run
	// was deleted and only its place in the file chain tells).
	RunID string `json:"run,omitempty"`
	// Seq is the first damaged event, 0 when the damage concerns the run
	// as a whole.
	Seq int64 `json:"seq,omitempty"`
	// Kind says what happened.
	Kind DamageKind `json:"kind"`
	// Detail explains it for people.
	Detail string `json:"detail"`
}

func (d ChainDamage) String() string {
	s := string(d.Kind)
	if d.RunID != "" {
		s += fmt.Sprintf(" run %q", d.RunID)
	}
	if d.Seq != 0 {
		s += fmt.Sprintf(" event %d", d.Seq)
	}
	return s + ": " + d.Detail
}

// VerifyReport is the result of re-computing a file's chains.
type VerifyReport struct {
	// Runs is the number of runs checked (with a journal in the file).
	Runs int `json:"runs"`
	// Purged is the number of runs that retention deleted, whose recorded
	// heads stand in for them in the file chain.
	Purged int `json:"purged"`
	// Events is the number of events checked.
	Events int64 `json:"events"`
	// Head is the file chain's head as re-computed.
	Head string `json:"head"`
	// Damage lists, per run, the first break found, then the breaks of the
	// file chain. Empty for a file that verifies.
	Damage []ChainDamage `json:"damage"`
}

// OK reports whether no damage was found.
func (r *VerifyReport) OK() bool { return len(r.Damage) == 0 }

// ChainVerifier re-computes chains run by run. Stores feed it what they
// hold, in any order, and call Finish. It holds one entry per run, not the
// events.
type ChainVerifier struct {
	x     *Hasher
	rep   VerifyReport
	links []runLink
	past  *ChainHead
}

// Through makes Finish also check that the file chain passes through
// past, a head recorded earlier (one signed with [SignHead], say): link
// past.Runs of the chain must be past.Hash, so no run created before it was
// deleted, renamed or moved since, whatever was recomputed after.
func (v *ChainVerifier) Through(past ChainHead) { v.past = &past }

type runLink struct {
	pos    int64
	runID  string
	purged bool
}

// NewChainVerifier returns an empty verifier.
func NewChainVerifier() *ChainVerifier {
	return &ChainVerifier{x: NewHasher(), rep: VerifyReport{Damage: []ChainDamage{}}}
}

// Run checks one run's chain and records its place in the file chain.
func (v *ChainVerifier) Run(r *ChainRun) {
	if r.Purged {
		v.rep.Purged++
	} else {
		v.rep.Runs++
		v.rep.Events += int64(len(r.Events))
		if d := v.x.VerifyRun(r); d != nil {
			v.rep.Damage = append(v.rep.Damage, *d)
		}
	}
	if r.Pos > 0 {
		v.links = append(v.links, runLink{pos: r.Pos, runID: r.RunID, purged: r.Purged})
	} else if !r.NoRow && len(r.Events) > 0 {
		v.rep.Damage = append(v.rep.Damage, ChainDamage{RunID: r.RunID, Kind: DamageInserted,
			Detail: "the run has no place in the file chain: it was not created by the engine"})
	}
}

// Finish checks the file chain against head, the store's record of it, and
// returns the report.
func (v *ChainVerifier) Finish(head ChainHead) VerifyReport {
	sort.Slice(v.links, func(i, j int) bool { return v.links[i].pos < v.links[j].pos })
	var h Hash
	var next int64 = 1
	broken := false
	name := func(i int) string {
		if i < 0 || i >= len(v.links) {
			return "none"
		}
		return fmt.Sprintf("%q", v.links[i].runID)
	}
	for i, l := range v.links {
		switch {
		case l.pos < next && !broken:
			broken = true
			v.rep.Damage = append(v.rep.Damage, ChainDamage{RunID: l.runID, Kind: DamageInserted,
				Detail: fmt.Sprintf("two runs claim position %d of the file chain", l.pos)})
		case l.pos > next && !broken:
			broken = true
			v.rep.Damage = append(v.rep.Damage, ChainDamage{Kind: DamageDeleted,
				Detail: fmt.Sprintf("the run created at position %d of the file chain is missing (between run %s and run %s)",
					next, name(i-1), name(i))})
		}
		h = v.x.Run(h, l.pos, l.runID)
		next = l.pos + 1
		if p := v.past; p != nil && l.pos == p.Runs && !broken {
			if h != p.Hash {
				v.rep.Damage = append(v.rep.Damage, ChainDamage{Kind: DamageHead,
					Detail: fmt.Sprintf("the file chain does not pass through the given head at run %d: a run created up to then was changed", p.Runs)})
			}
			v.past = nil
		}
	}
	if p := v.past; p != nil && p.Runs > 0 && !broken {
		v.rep.Damage = append(v.rep.Damage, ChainDamage{Kind: DamageDeleted,
			Detail: fmt.Sprintf("the given head is at run %d, the file chain holds %d runs", p.Runs, next-1)})
	}
	if !broken {
		switch {
		case head.Runs > next-1:
			v.rep.Damage = append(v.rep.Damage, ChainDamage{Kind: DamageDeleted,
				Detail: fmt.Sprintf("the file chain records %d runs; the last %d are missing (after run %s)",
					head.Runs, head.Runs-(next-1), name(len(v.links)-1))})
		case head.Runs < next-1:
			v.rep.Damage = append(v.rep.Damage, ChainDamage{Kind: DamageHead,
				Detail: fmt.Sprintf("the file chain records %d runs, the file holds %d", head.Runs, next-1)})
		case h != head.Hash:
			v.rep.Damage = append(v.rep.Damage, ChainDamage{Kind: DamageHead,
				Detail: "the file chain's recorded head does not match its runs (a run's ID or position was changed)"})
		}
	}
	v.rep.Head = h.String()
	return v.rep
}

// classify tells what broke the chain at e, whose predecessor's hash is
// prev, from e and the event after it, n: a row inserted before n (n
// renumbered), two rows swapped, or a row removed before e (e renumbered).
// It returns "" when none of these explains the break.
func (x *Hasher) classify(runID string, prev Hash, e, n *ChainEvent) DamageKind {
	eh, eok := HashFromBytes(e.Hash)
	nh, nok := HashFromBytes(n.Hash)
	nAtE := n.Event
	nAtE.Seq = e.Seq
	if nok {
		back := x.Event(prev, runID, &nAtE)
		if back == nh {
			// n belongs where e is: e was inserted, or e and n swapped.
			eAtN := e.Event
			eAtN.Seq = n.Seq
			if eok && x.Event(nh, runID, &eAtN) == eh {
				return DamageReordered
			}
			return DamageInserted
		}
	}
	if eok {
		// Contents swapped, hashes left in place.
		if x.Event(prev, runID, &nAtE) == eh {
			return DamageReordered
		}
		// A removed row: e and n were renumbered one down, so n still
		// chains from e at its original seq.
		nLater := n.Event
		nLater.Seq = n.Seq + 1
		if nok && x.Event(eh, runID, &nLater) == nh {
			return DamageDeleted
		}
	}
	return ""
}

// VerifyRun re-computes the chain of r and returns its first break, or nil
// when the chain and the recorded head match the journal.
func (x *Hasher) VerifyRun(r *ChainRun) *ChainDamage {
	dmg := func(seq int64, k DamageKind, format string, args ...any) *ChainDamage {
		return &ChainDamage{RunID: r.RunID, Seq: seq, Kind: k, Detail: fmt.Sprintf(format, args...)}
	}
	if r.NoRow {
		return dmg(0, DamageDeleted, "the journal has %d events but the run's row was deleted", len(r.Events))
	}
	ev := r.Events
	var prev Hash
	for i := range ev {
		e := &ev[i]
		want := int64(i) + 1
		stored, ok := HashFromBytes(e.Hash)
		if e.Seq > want {
			if e.Seq == want+1 {
				return dmg(want, DamageDeleted, "event %d is missing", want)
			}
			return dmg(want, DamageDeleted, "events %d to %d are missing", want, e.Seq-1)
		}
		if e.Seq > r.LastSeq {
			return dmg(e.Seq, DamageInserted, "the run's row ends at seq %d", r.LastSeq)
		}
		if ok && x.Event(prev, r.RunID, &e.Event) == stored {
			prev = stored
			continue
		}
		// The first break: tell what happened from the next event.
		if i+1 < len(ev) {
			if d := x.classify(r.RunID, prev, e, &ev[i+1]); d != "" {
				switch d {
				case DamageReordered:
					return dmg(e.Seq, d, "events %d and %d were swapped", e.Seq, ev[i+1].Seq)
				case DamageInserted:
					return dmg(e.Seq, d, "the event at seq %d was not written by the engine (the later events were renumbered after it)", e.Seq)
				case DamageDeleted:
					return dmg(e.Seq, d, "the event at seq %d was removed and the later events renumbered", e.Seq)
				}
			}
		}
		if !ok {
			return dmg(e.Seq, DamageInserted, "the event has no chain hash: it was not written by the engine")
		}
		return dmg(e.Seq, DamageEdited, "the event's content does not match its chain hash")
	}
	n := int64(len(ev))
	head, ok := HashFromBytes(r.Head)
	switch {
	case n < r.LastSeq:
		return dmg(n+1, DamageDeleted, "the run's row ends at seq %d, the journal at seq %d", r.LastSeq, n)
	case !ok && n > 0:
		return dmg(0, DamageHead, "the run's row has no head")
	case n > 0 && head != prev:
		for i := len(ev) - 2; i >= 0; i-- {
			if bytes.Equal(ev[i].Hash, head[:]) {
				return dmg(ev[i].Seq+1, DamageInserted, "the run's recorded head is the hash of event %d: the events after it were added", ev[i].Seq)
			}
		}
		return dmg(0, DamageHead, "the run's recorded head does not match its last event")
	}
	return nil
}

// ChainStore is implemented by stores that keep the hash chain (the SQLite
// store does). Engine.Verify, `chorus verify`, ExportAudit and `chorus
// audit export` use it.
type ChainStore interface {
	// ChainHead returns the file chain's head as recorded.
	ChainHead(ctx context.Context) (ChainHead, error)
	// ReadChain returns one run's journal as stored, with its hashes, its
	// head and its place in the file chain, without checking anything; an
	// unknown run gives [ErrRunNotFound].
	ReadChain(ctx context.Context, runID string) (ChainRun, error)
	// VerifyChains re-computes every run's chain and the file chain from
	// one snapshot and reports the first break of each. The error is for a
	// failure to read, not for damage, which the report holds.
	VerifyChains(ctx context.Context) (VerifyReport, error)
}
