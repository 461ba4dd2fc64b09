package replay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/hook"
)

// Run replays the recorded history h against the workflow code in defs
// (workflow.New and activity.New definitions; activities are never run,
// so registering them is optional) and returns nil when the code issues
// the same commands as the journal of the run's current generation, in the
// same order and with the same names.
//
// Otherwise it returns, unwrapped, the first reason the code cannot replay
// the run: a [*chorus.NonDeterminismError] naming the step, the recorded
// event and what the code issued instead; a [*chorus.PanicError] if the
// code panicked; a [*chorus.PayloadError] if a recorded payload does not
// decode into the code's types; a [*chorus.NotRegisteredError] if the
// run's workflow is not in defs; a [*history.FormatError] if h is not a
// valid history.
//
// Run changes nothing anywhere: it loads h into a private in-memory store,
// opens an engine on it with defs, replays the run, and throws both away.
// No activity, timer or child runs.
func Run(ctx context.Context, h *history.Export, defs ...chorus.Definition) error {
	return Replayer{}.Run(ctx, h, defs...)
}

// File replays the chorus-history document at path; see [Run]. Its errors
// are [*FileError] values naming the file.
func File(ctx context.Context, path string, defs ...chorus.Definition) error {
	return Replayer{}.File(ctx, path, defs...)
}

// Dir replays every chorus-history document (every regular file whose name
// ends in ".json") directly in dir, in name order, and returns nil when all
// of them replay, or the errors joined, one [*FileError] per failing file.
// A directory without any such file is an error, so that a CI gate over a
// misspelled or emptied directory fails instead of passing.
func Dir(ctx context.Context, dir string, defs ...chorus.Definition) error {
	return Replayer{}.Dir(ctx, dir, defs...)
}

// Test replays every chorus-history document in dir (see [Dir]) as a
// subtest of t named after the file, failing the subtests whose history
// no longer replays. It fails t when dir holds no history. Call it from a
// test of the package that defines the workflows:
//
//	func TestHistoriesReplay(t *testing.T) {
//		replay.Test(t, "testdata/histories", PlaceOrder, HandleClaim)
//	}
func Test(t *testing.T, dir string, defs ...chorus.Definition) {
	t.Helper()
	Replayer{}.Test(t, dir, defs...)
}

// Replayer replays histories recorded with non-default engine settings.
// The zero Replayer is what the package's functions use.
type Replayer struct {
	// Codec must be the payload codec the histories were recorded with
	// (chorus.Options.Codec). Defaults to history.JSONCodec.
	Codec history.Codec
	// PayloadCodec decodes histories recorded with a PayloadCodec
	// (chorus.Options.PayloadCodec: compressed or encrypted payloads);
	// without it, or without the key, such a history does not replay and
	// the error matches chorus.ErrPayloadKey. Defaults to none.
	PayloadCodec history.PayloadCodec
	// ContextPropagators must be those the histories were recorded with
	// (chorus.Options.ContextPropagators), when workflow code reads the
	// values they carry. Defaults to none.
	ContextPropagators []chorus.ContextPropagator
}

// Run is [Run] with r's settings.
func (r Replayer) Run(ctx context.Context, h *history.Export, defs ...chorus.Definition) (err error) {
	if err := h.Validate(); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, ":memory:", nil)
	if err != nil {
		return fmt.Errorf("replay: open an in-memory store: %w", err)
	}
	// A run imported as blocked would be retried by the engine as soon as
	// it opens, and could go on live (running its activities) if the code
	// replays it; imported as running, with no tasks, nothing touches it.
	x := *h
	if x.Run.Status == history.StatusBlocked {
		x.Run.Status = history.StatusRunning
	}
	if err := chorus.ImportHistory(ctx, st, &x); err != nil {
		return errors.Join(err, st.Close())
	}
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Definitions: defs, Codec: r.Codec, PayloadCodec: r.PayloadCodec, Clock: clock.NewMock(),
		ContextPropagators: r.ContextPropagators})
	if err != nil {
		return errors.Join(err, st.Close())
	}
	defer func() {
		if cerr := eng.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = fmt.Errorf("replay: close the replay engine: %w", cerr)
		}
	}()
	return hook.PublicErr(hook.Core(eng).ReplayRun(ctx, x.Run.ID))
}

// FileError is a history file that could not be read or does not replay.
type FileError struct {
	// Path is the file.
	Path string
	// Err is why: an error reading the file, a [*history.FormatError], or
	// what [Run] returned.
	Err error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *FileError) Unwrap() error { return e.Err }

// File is [File] with r's settings.
func (r Replayer) File(ctx context.Context, path string, defs ...chorus.Definition) error {
	f, err := os.Open(path)
	if err != nil {
		return &FileError{Path: path, Err: err}
	}
	h, err := history.DecodeExport(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return &FileError{Path: path, Err: err}
	}
	if err := r.Run(ctx, h, defs...); err != nil {
		return &FileError{Path: path, Err: err}
	}
	return nil
}

// Dir is [Dir] with r's settings.
func (r Replayer) Dir(ctx context.Context, dir string, defs ...chorus.Definition) error {
	paths, err := historyFiles(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		errs = append(errs, r.File(ctx, p, defs...))
	}
	return errors.Join(errs...)
}

// Test is [Test] with r's settings.
func (r Replayer) Test(t *testing.T, dir string, defs ...chorus.Definition) {
	t.Helper()
	paths, err := historyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".json"), func(t *testing.T) {
			if err := r.File(t.Context(), p, defs...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// historyFiles lists the regular files named *.json directly in dir, in
// name order, and fails when there is none.
func historyFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("replay: no history (*.json) in %s", dir)
	}
	return paths, nil
}
