package history

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// auditDoc builds a signed audit export of one run of n events by hand,
// as ExportAudit writes it.
func auditDoc(t testing.TB, key ed25519.PrivateKey, n int64) []byte {
	t.Helper()
	x := NewHasher()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	var prev Hash
	var lines []any
	for seq := int64(1); seq <= n; seq++ {
		e := ChainEvent{Event: Event{Seq: seq, Type: EventActivityScheduled, Name: "act", Payload: []byte{byte(seq)}, Time: t0.Add(time.Duration(seq))}}
		if seq == 1 {
			e.Type = EventRunStarted
		}
		prev = x.Event(prev, "r", &e.Event)
		e.Hash = prev[:]
		lines = append(lines, auditEvent("r", &e))
	}
	file := ChainHead{Runs: 1, Hash: x.Run(Hash{}, 1, "r")}
	d := auditDigest(file, []runSummary{{id: "r", pos: 1, lastSeq: n, head: prev}})
	hdr := AuditHeader{Format: AuditFormat, Chain: AuditChain{Runs: 1, Head: file.Hash.String()}, Runs: 1, Events: n, Digest: d.String(),
		Signature: &AuditSignature{Alg: "ed25519", Sig: base64Std(ed25519.Sign(key, signDigest(d)))}}
	require.NoError(t, enc.Encode(hdr))
	require.NoError(t, enc.Encode(AuditRun{Kind: "run", Run: "r", Pos: 1, LastSeq: n, Head: prev.String()}))
	for _, l := range lines {
		require.NoError(t, enc.Encode(l))
	}
	return buf.Bytes()
}

func base64Std(b []byte) string {
	out, _ := json.Marshal(b) // a JSON string of standard base64
	return string(out[1 : len(out)-1])
}

// FuzzVerifyAudit: any document, however damaged, gives a report or an
// error, never a panic; the untouched document verifies against its key.
func FuzzVerifyAudit(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pub := key.Public().(ed25519.PublicKey)
	doc := auditDoc(f, key, 5)
	rep, err := VerifyAudit(bytes.NewReader(doc), pub)
	require.NoError(f, err)
	require.True(f, rep.OK(), "%v", rep.Damage)
	require.True(f, rep.Checked)

	f.Add(doc)
	f.Add(doc[:len(doc)/2])
	f.Add(bytes.Replace(doc, []byte(`"seq":3`), []byte(`"seq":4`), 1))
	f.Add([]byte(`{"format":"chorus-audit/1"}` + "\n" + `{"kind":"event","run":"r","seq":1}`))
	f.Add([]byte("{}\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := VerifyAudit(bytes.NewReader(b), pub)
		if err != nil {
			return
		}
		if rep.OK() && !bytes.Equal(b, doc) {
			// Only a document with the same runs, events and signature
			// verifies: its lines may differ in spelling (JSON), not in
			// what is hashed.
			require.True(t, rep.Checked)
		}
	})
}

// TestSignHead: a head's signature checks against its key only, and not
// for another head.
func TestSignHead(t *testing.T) {
	t.Parallel()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
	head := ChainHead{Runs: 3, Hash: HashRun(Hash{}, 1, "a")}
	sig := SignHead(key, head)
	require.True(t, VerifyHeadSignature(key.Public().(ed25519.PublicKey), head, sig))
	require.False(t, VerifyHeadSignature(other.Public().(ed25519.PublicKey), head, sig))
	require.False(t, VerifyHeadSignature(key.Public().(ed25519.PublicKey), ChainHead{Runs: 4, Hash: head.Hash}, sig))
	require.False(t, VerifyHeadSignature(nil, head, sig))
}
