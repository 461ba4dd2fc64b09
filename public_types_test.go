package chorus_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// The root package's error and limit types are its own struct types, each
// field documented, so that go doc shows them (an alias to an internal type
// hides its fields).
func TestPublicTypesAreDocumentedStructs(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	specs := map[string]*ast.TypeSpec{}
	for _, ent := range entries {
		if !strings.HasSuffix(ent.Name(), ".go") || strings.HasSuffix(ent.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, ent.Name(), nil, parser.ParseComments)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				specs[ts.Name.Name] = ts
			}
			return true
		})
	}
	for _, name := range []string{"Limits", "LimitError", "NonDeterminismError", "NotRegisteredError", "BlockedError",
		"PanicError", "PayloadError", "VersionError", "RunIDError", "Divergence", "WorkflowError"} {
		ts := specs[name]
		require.NotNil(t, ts, name)
		require.False(t, ts.Assign.IsValid(), "%s is an alias; go doc would hide its fields", name)
		st, ok := ts.Type.(*ast.StructType)
		require.True(t, ok, "%s is not a struct", name)
		require.NotEmpty(t, st.Fields.List, name)
		// A field is documented by its own comment or by that of the
		// field right above it (a group such as RunID and Workflow).
		documented := false
		prevLine := 0
		for _, f := range st.Fields.List {
			line := fset.Position(f.Pos()).Line
			documented = f.Doc != nil || (documented && line == prevLine+1)
			prevLine = line
			if len(f.Names) > 0 && f.Names[0].IsExported() {
				require.True(t, documented, "%s.%s has no doc comment", name, f.Names[0].Name)
			}
		}
	}
}

// blockedBy starts wf as run id and returns what Result and Describe report
// once it is blocked.
func blockedBy(ctx context.Context, t *testing.T, eng *chorus.Engine, wf *workflow.Definition[int, int], id string) (result, describe error) {
	t.Helper()
	run, err := chorus.Start(ctx, eng, wf, 0, &chorus.StartOptions{ID: id})
	require.NoError(t, err)
	_, result = run.Result(ctx)
	info, err := eng.Describe(ctx, id)
	require.NoError(t, err)
	return result, info.Err
}

// Every error type of the root package matches what the API returns, with
// errors.As and errors.Is, whether the engine made it or it was read back
// from the journal.
func TestPublicErrorTypesMatchWhatTheAPIReturns(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	type inWorkflow struct{ PayloadAs, PayloadIs bool }
	unencodable := activity.New("unencodable", func(ctx context.Context, _ chan int) (int, error) { return 0, nil })
	seesPayload := workflow.New("sees-payload", func(ctx workflow.Context, _ int) (inWorkflow, error) {
		_, err := workflow.ExecuteActivity(ctx, unencodable, make(chan int)).Get(ctx)
		var pe *chorus.PayloadError
		return inWorkflow{PayloadAs: errors.As(err, &pe) && pe.Err != nil, PayloadIs: errors.Is(err, chorus.ErrPayload)}, nil
	})
	panics := workflow.New("panics", func(ctx workflow.Context, _ int) (int, error) {
		workflow.Sleep(ctx, time.Millisecond)
		panic("boom")
	})
	versions := workflow.New("versions", func(ctx workflow.Context, _ int) (int, error) {
		workflow.GetVersion(ctx, "change", workflow.DefaultVersion, 1)
		workflow.Sleep(ctx, time.Millisecond)
		return workflow.GetVersion(ctx, "change", 2, 3), nil // the run recorded 1
	})
	small := workflow.New("small", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	unknown := workflow.New("unknown", func(ctx workflow.Context, n int) (int, error) { return n, nil })
	eng, _ := setup(t, &chorus.Options{Limits: &chorus.Limits{MaxPayloadBytes: 100}},
		seesPayload, panics, versions, small, unencodable)

	// LimitError, made by the engine, returned at once.
	_, err := chorus.Start(ctx, eng, workflow.New("small", func(ctx workflow.Context, s string) (int, error) { return 0, nil }),
		strings.Repeat("x", 200), nil)
	var le *chorus.LimitError
	require.ErrorAs(t, err, &le)
	require.IsType(t, &chorus.LimitError{}, err)
	require.Equal(t, "MaxPayloadBytes", le.Limit)
	require.EqualValues(t, 100, le.Max)
	require.ErrorIs(t, err, chorus.ErrLimitExceeded)

	// RunIDError.
	_, err = chorus.Start(ctx, eng, small, 1, &chorus.StartOptions{ID: "bad\x00id"})
	var ie *chorus.RunIDError
	require.ErrorAs(t, err, &ie)
	require.IsType(t, &chorus.RunIDError{}, err)
	require.ErrorIs(t, err, chorus.ErrInvalidRunID)

	// NotRegisteredError, from Start and from the engine (replay).
	_, err = chorus.Start(ctx, eng, unknown, 1, nil)
	var nre *chorus.NotRegisteredError
	require.ErrorAs(t, err, &nre)
	require.Equal(t, "unknown", nre.Name)
	require.ErrorIs(t, err, chorus.ErrNotRegistered)

	// PayloadError, as workflow code sees it.
	run, err := chorus.Start(ctx, eng, seesPayload, 0, nil)
	require.NoError(t, err)
	seen, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, inWorkflow{PayloadAs: true, PayloadIs: true}, seen)

	// PanicError and BlockedError, live and read back.
	res, desc := blockedBy(ctx, t, eng, panics, "panics")
	for _, err := range []error{res, desc} {
		var be *chorus.BlockedError
		require.ErrorAs(t, err, &be)
		require.Equal(t, "panics", be.RunID)
		require.ErrorIs(t, err, chorus.ErrRunBlocked)
		var pe *chorus.PanicError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, "boom", pe.Value)
		require.NotEmpty(t, pe.Stack)
	}
	err = chorus.Signal(ctx, eng, "panics", workflow.NewSignal[int]("s"), 1)
	require.IsType(t, &chorus.BlockedError{}, err)
	var pe *chorus.PanicError
	require.ErrorAs(t, err, &pe)

	// VersionError.
	res, desc = blockedBy(ctx, t, eng, versions, "versions")
	var ve *chorus.VersionError
	require.ErrorAs(t, res, &ve)
	require.Equal(t, 1, ve.Version)
	require.Equal(t, 2, ve.Min)
	require.ErrorIs(t, desc, chorus.ErrRunBlocked)
	// Read back from the run's row, as Describe (and a Result that comes
	// after the block) reads it.
	ve = nil
	require.ErrorAs(t, desc, &ve)
	require.Equal(t, chorus.VersionError{RunID: "versions", ChangeID: "change", Version: 1, Min: 2, Max: 3}, *ve)

	// NonDeterminismError and NotRegisteredError from the engine, through
	// replay of the run with other code.
	x, err := chorus.History(ctx, eng, "versions")
	require.NoError(t, err)
	echo := activity.New("echo", func(ctx context.Context, n int) (int, error) { return n, nil })
	other := workflow.New("versions", func(ctx workflow.Context, _ int) (int, error) {
		return workflow.ExecuteActivity(ctx, echo, 1).Get(ctx)
	})
	err = replay.Run(ctx, x, other, echo)
	var nde *chorus.NonDeterminismError
	require.ErrorAs(t, err, &nde, "%v", err)
	require.Equal(t, "versions", nde.RunID)
	err = replay.Run(ctx, x)
	require.ErrorAs(t, err, &nre, "%v", err)
	require.ErrorIs(t, err, chorus.ErrNotRegistered)
}
