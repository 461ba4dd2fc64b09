package chorus_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

var (
	auditSignal = workflow.NewSignal[string]("approve")
	auditWF     = workflow.New("audit-wf", func(ctx workflow.Context, in string) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, auditSignal).Receive(ctx)
		return in + ":" + v, nil
	})
)

// auditExport runs two workflows, one signaled by an identified caller,
// and returns the engine and an export of both, signed with key.
func auditExport(t *testing.T, key ed25519.PrivateKey) (*chorus.Engine, []byte) {
	t.Helper()
	ctx := testContext(t)
	eng, _ := setup(t, nil, auditWF)
	for _, id := range []string{"a1", "a2"} {
		run, err := chorus.Start(ctx, eng, auditWF, "claim-"+id, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		require.NoError(t, chorus.Signal(chorus.WithIdentity(ctx, "alice@example.com"), eng, id, auditSignal, "ok"))
		_, err = run.Result(ctx)
		require.NoError(t, err)
	}
	var buf bytes.Buffer
	st, err := eng.ExportAudit(ctx, &buf, chorus.AuditOptions{Runs: []string{"a1", "a2"}, Key: key})
	require.NoError(t, err)
	require.Equal(t, 2, st.Runs)
	require.Equal(t, key != nil, st.Signed)
	return eng, buf.Bytes()
}

func testKey(t *testing.T, seed byte) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// TestAuditExportVerifies: an export of the engine's journal verifies from
// the document alone, names the actor of the signal, and its signature
// checks against the signer's public key.
func TestAuditExportVerifies(t *testing.T) {
	t.Parallel()
	key := testKey(t, 1)
	_, doc := auditExport(t, key)

	rep, err := history.VerifyAudit(bytes.NewReader(doc), key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Damage)
	require.Equal(t, 2, rep.Runs)
	require.True(t, rep.Signed)
	require.True(t, rep.Checked)

	lines := strings.Split(strings.TrimSpace(string(doc)), "\n")
	var hdr history.AuditHeader
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &hdr))
	require.Equal(t, history.AuditFormat, hdr.Format)
	require.Equal(t, int64(len(lines)-1-hdr.Runs), hdr.Events)
	actors := 0
	for _, l := range lines[1:] {
		var e history.AuditEvent
		require.NoError(t, json.Unmarshal([]byte(l), &e))
		if e.Kind == "event" && e.Code == history.EventOperatorAction {
			require.Equal(t, "alice@example.com", e.Actor)
			actors++
		}
	}
	require.Equal(t, 2, actors, "one signal note per run")
}

// auditLines returns doc's lines and the index of the first event line of
// run id whose type is typ.
func auditLine(t *testing.T, lines []string, id string, typ history.EventType) int {
	t.Helper()
	for i, l := range lines {
		var e history.AuditEvent
		require.NoError(t, json.Unmarshal([]byte(l), &e))
		if e.Kind == "event" && e.Run == id && e.Code == typ {
			return i
		}
	}
	t.Fatalf("no %v event of run %q", typ, id)
	return 0
}

// TestAuditExportTampered: an edited, a deleted and an inserted event line
// are each named by line, run and seq; a signature checked against another
// key is refused; a document whose run line was edited fails its digest.
func TestAuditExportTampered(t *testing.T) {
	t.Parallel()
	key := testKey(t, 2)
	_, doc := auditExport(t, key)
	pub := key.Public().(ed25519.PublicKey)
	lines := strings.Split(strings.TrimSpace(string(doc)), "\n")
	verify := func(ls []string, pub ed25519.PublicKey) history.AuditReport {
		t.Helper()
		rep, err := history.VerifyAudit(strings.NewReader(strings.Join(ls, "\n")+"\n"), pub)
		require.NoError(t, err)
		return rep
	}

	t.Run("edited", func(t *testing.T) {
		i := auditLine(t, lines, "a2", history.EventSignalReceived)
		var e history.AuditEvent
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &e))
		e.Payload = []byte(`"rejected"`)
		b, err := json.Marshal(e)
		require.NoError(t, err)
		ls := append([]string(nil), lines...)
		ls[i] = string(b)
		rep := verify(ls, pub)
		require.Len(t, rep.Damage, 1, "%v", rep.Damage)
		d := rep.Damage[0]
		require.Equal(t, i+1, d.Line)
		require.Equal(t, "a2", d.RunID)
		require.Equal(t, e.Seq, d.Seq)
		require.Equal(t, history.DamageEdited, d.Kind)
	})

	t.Run("deleted", func(t *testing.T) {
		i := auditLine(t, lines, "a1", history.EventSignalReceived)
		var e history.AuditEvent
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &e))
		ls := append(append([]string(nil), lines[:i]...), lines[i+1:]...)
		rep := verify(ls, pub)
		require.NotEmpty(t, rep.Damage)
		d := rep.Damage[0]
		require.Equal(t, "a1", d.RunID)
		require.Equal(t, e.Seq, d.Seq)
		require.Equal(t, history.DamageDeleted, d.Kind)
		require.Equal(t, i+1, d.Line, "the line where the deleted event was")
	})

	t.Run("inserted", func(t *testing.T) {
		i := auditLine(t, lines, "a1", history.EventSignalReceived)
		ls := append(append(append([]string(nil), lines[:i]...), lines[i]), lines[i:]...)
		rep := verify(ls, pub)
		require.NotEmpty(t, rep.Damage)
		require.Equal(t, "a1", rep.Damage[0].RunID)
		require.Equal(t, i+2, rep.Damage[0].Line)
	})

	t.Run("wrong key", func(t *testing.T) {
		rep := verify(lines, testKey(t, 3).Public().(ed25519.PublicKey))
		require.Len(t, rep.Damage, 1)
		require.Equal(t, history.DamageSignature, rep.Damage[0].Kind)
		require.False(t, rep.Checked)
		require.True(t, rep.Signed)
	})

	t.Run("run line edited", func(t *testing.T) {
		ls := append([]string(nil), lines...)
		ls[1] = strings.Replace(ls[1], `"pos":1`, `"pos":7`, 1)
		require.NotEqual(t, lines[1], ls[1])
		rep := verify(ls, pub)
		kinds := map[history.DamageKind]bool{}
		for _, d := range rep.Damage {
			kinds[d.Kind] = true
		}
		require.True(t, kinds[history.DamageHead], "%v", rep.Damage)
		require.True(t, kinds[history.DamageSignature], "%v", rep.Damage)
	})

	t.Run("unsigned", func(t *testing.T) {
		_, doc := auditExport(t, nil)
		rep, err := history.VerifyAudit(bytes.NewReader(doc), nil)
		require.NoError(t, err)
		require.True(t, rep.OK(), "%v", rep.Damage)
		require.False(t, rep.Signed)
		rep, err = history.VerifyAudit(bytes.NewReader(doc), pub)
		require.NoError(t, err)
		require.Equal(t, history.DamageSignature, rep.Damage[0].Kind)
	})
}

// TestAuditExportSince: --since selects the runs that changed at or after
// the time; an unknown run is an error naming ErrRunNotFound.
func TestAuditExportSince(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	eng, _ := auditExport(t, nil)
	var buf bytes.Buffer
	st, err := eng.ExportAudit(ctx, &buf, chorus.AuditOptions{Since: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 2, st.Runs)
	buf.Reset()
	st, err = eng.ExportAudit(ctx, &buf, chorus.AuditOptions{Since: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 0, st.Runs)
	_, err = eng.ExportAudit(ctx, &buf, chorus.AuditOptions{Runs: []string{"nope"}})
	require.ErrorIs(t, err, history.ErrRunNotFound)
}
