package workflow

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/google/uuid"

	"github.com/chorusdev/chorus/internal/engine"
)

// SideEffect runs fn once, live, and journals its result; on replay the
// recorded result is returned and fn is not called. Use it for small
// non-deterministic values (a generated ID, a feature flag read); anything
// that can fail or takes time belongs in an activity.
func SideEffect[T any](ctx Context, fn func() T) T {
	c := mustImpl(ctx)
	defer c.leave()
	codec := c.r.Codec()
	b := c.r.Record("side-effect", func() ([]byte, error) { return codec.Marshal(fn()) })
	var v T
	if err := codec.Unmarshal(b, &v); err != nil {
		c.r.Fail(&engine.PayloadError{What: fmt.Sprintf("decode side effect into %T", v), Err: err})
	}
	return v
}

// NewUUID returns a random UUID that stays the same on replay.
func NewUUID(ctx Context) uuid.UUID {
	c := mustImpl(ctx)
	defer c.leave()
	b := c.r.Record("uuid", func() ([]byte, error) {
		u := uuid.New()
		return u[:], nil
	})
	u, err := uuid.FromBytes(b)
	if err != nil {
		c.r.Fail(&engine.PayloadError{What: "decode recorded UUID", Err: err})
	}
	return u
}

// NewRandom returns a random number generator whose seed is journaled, so
// it yields the same numbers on replay. Draw from it only in workflow code.
func NewRandom(ctx Context) *rand.Rand {
	c := mustImpl(ctx)
	defer c.leave()
	b := c.r.Record("random-seed", func() ([]byte, error) {
		seed := make([]byte, 16)
		binary.LittleEndian.PutUint64(seed, rand.Uint64())
		binary.LittleEndian.PutUint64(seed[8:], rand.Uint64())
		return seed, nil
	})
	if len(b) != 16 {
		c.r.Fail(&engine.PayloadError{What: "decode recorded random seed", Err: fmt.Errorf("%d bytes, want 16", len(b))})
	}
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])))
}

// RecordMarker writes a named fact into the run's journal, with details
// encoded by the engine's codec, for people and tools that read the journal
// (the saga package marks each compensation this way). It is a command:
// replay expects it at the same place, under the same name.
func RecordMarker(ctx Context, name string, details any) {
	c := mustImpl(ctx)
	defer c.leave()
	b, err := c.r.Codec().Marshal(details)
	if err != nil {
		c.r.Fail(&engine.PayloadError{What: fmt.Sprintf("encode marker %q", name), Err: err})
	}
	c.r.Marker(name, b)
}

// DefaultVersion is the version [GetVersion] returns for a run that was
// recorded before the change existed.
const DefaultVersion = engine.DefaultVersion

// GetVersion guards a change to workflow code so that runs already past
// this point keep the path they took. The first time a run reaches this
// call live it records maxSupported, and replay returns what was recorded;
// a run whose journal shows it passed this point before the call existed
// gets [DefaultVersion]. So runs recorded on the old code replay the old
// path, and every run that reaches the change after the upgrade (new runs,
// and old runs that were parked before this point) takes the new one.
//
//	v := workflow.GetVersion(ctx, "add-fraud-check", workflow.DefaultVersion, 1)
//	if v == 1 {
//		// new path
//	}
//
// Once no run older than a version can exist, raise minSupported and delete
// the old branch. A run whose version is outside [minSupported,
// maxSupported] is blocked with an error that names the change.
func GetVersion(ctx Context, changeID string, minSupported, maxSupported int) int {
	c := mustImpl(ctx)
	defer c.leave()
	return c.r.Version(changeID, minSupported, maxSupported)
}
