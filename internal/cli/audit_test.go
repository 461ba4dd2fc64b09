package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// TestAuditExportCLI: keygen, a signed export of two runs, verify with the
// public key; then an edited line, a deleted line and another key are each
// refused with exit status 1, naming the line.
func TestAuditExportCLI(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "auditor")
	code, out := f.run("audit", "keygen", keys)
	require.Equal(t, 0, code, out)
	code, out = f.run("audit", "keygen", keys)
	require.Equal(t, 1, code, "keygen refuses to overwrite: %s", out)
	other := filepath.Join(dir, "other")
	code, out = f.run("audit", "keygen", other)
	require.Equal(t, 0, code, out)

	doc := filepath.Join(dir, "out.jsonl")
	code, out = f.run("audit", "export", f.path, "--run", "order-1", "--run", "approval-1", "-o", doc, "--key", keys+".key")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "2 runs")
	require.Contains(t, out, "signed")

	code, out = f.run("verify", "--export", doc, "--pubkey", keys+".pub")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "OK: the export verifies")
	require.Contains(t, out, "ok (the given key's)")

	code, out = f.run("verify", "--export", doc, "--pubkey", other+".pub")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "REFUSED")

	b, err := os.ReadFile(doc)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	// The third event of approval-1.
	target := -1
	for i, l := range lines {
		var e history.AuditEvent
		require.NoError(t, json.Unmarshal([]byte(l), &e))
		if e.Kind == "event" && e.Run == "approval-1" && e.Seq == 3 {
			target = i
		}
	}
	require.Positive(t, target)
	write := func(ls []string) string {
		p := filepath.Join(dir, "tampered.jsonl")
		require.NoError(t, os.WriteFile(p, []byte(strings.Join(ls, "\n")+"\n"), 0o600))
		return p
	}

	var e map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[target]), &e))
	e["ref"] = 99
	edited, err := json.Marshal(e)
	require.NoError(t, err)
	ls := append([]string(nil), lines...)
	ls[target] = string(edited)
	code, out = f.run("verify", "--export", write(ls), "--pubkey", keys+".pub", "--json")
	require.Equal(t, 1, code, out)
	var rep struct {
		history.AuditReport
		OK bool `json:"ok"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.False(t, rep.OK)
	require.Len(t, rep.Damage, 1, out)
	require.Equal(t, target+1, rep.Damage[0].Line)
	require.Equal(t, "approval-1", rep.Damage[0].RunID)
	require.Equal(t, int64(3), rep.Damage[0].Seq)
	require.Equal(t, history.DamageEdited, rep.Damage[0].Kind)

	ls = append(append([]string(nil), lines[:target]...), lines[target+1:]...)
	code, out = f.run("verify", "--export", write(ls))
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "deleted")
	require.Contains(t, out, "approval-1")

	code, out = f.run("verify", "--pubkey", keys+".pub", f.path)
	require.Equal(t, 2, code, out)
	code, out = f.run("audit", "export", f.path)
	require.Equal(t, 2, code, out)
	code, out = f.run("audit", "export", f.path, "--since", "yesterday")
	require.Equal(t, 2, code, out)
	code, out = f.run("audit", "export", f.path, "--run", "order-1", "--key", keys+".pub")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, `want "PRIVATE KEY"`)

	// A signed head: the file passes through it; another key, or a head
	// edited after signing, is refused.
	head := filepath.Join(dir, "head.json")
	code, out = f.run("audit", "head", f.path, "--key", keys+".key", "-o", head)
	require.Equal(t, 0, code, out)
	code, out = f.run("verify", f.path, "--pubkey", keys+".pub", "--head", head)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "OK: no damage found")
	code, out = f.run("verify", f.path, "--pubkey", other+".pub", "--head", head)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "refused")
	hb, err := os.ReadFile(head)
	require.NoError(t, err)
	var hv map[string]any
	require.NoError(t, json.Unmarshal(hb, &hv))
	hv["runs"] = hv["runs"].(float64) - 1
	hb, err = json.Marshal(hv)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(head, hb, 0o600))
	code, out = f.run("verify", f.path, "--pubkey", keys+".pub", "--head", head)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "refused")
	code, out = f.run("verify", f.path, "--head", head)
	require.Equal(t, 2, code, out)

	// --since a date before the fixture's clock selects every run.
	code, out = f.run("audit", "export", f.path, "--since", "2026-01-01", "--json", "-o", filepath.Join(dir, "all.jsonl"))
	require.Equal(t, 0, code, out)
	var v struct{ Runs int }
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.GreaterOrEqual(t, v.Runs, 7)
}
