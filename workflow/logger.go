package workflow

import (
	"context"
	"log/slog"

	"github.com/chorusdev/chorus/internal/engine"
)

// Logger returns a logger for workflow code, built on the engine's
// Options.Logger, that carries the run's ID and workflow name and stays
// silent while the code is replaying, so each line is logged once.
func Logger(ctx Context) *slog.Logger {
	c := mustImpl(ctx)
	base := c.r.Logger()
	return slog.New(replayHandler{h: base.Handler(), r: c.r}).With("run_id", c.r.ID(), "workflow", c.r.WorkflowName())
}

type replayHandler struct {
	h slog.Handler
	r *engine.Run
}

func (h replayHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !h.r.IsReplaying() && h.h.Enabled(ctx, l)
}

func (h replayHandler) Handle(ctx context.Context, rec slog.Record) error {
	if h.r.IsReplaying() {
		return nil
	}
	return h.h.Handle(ctx, rec)
}

func (h replayHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return replayHandler{h: h.h.WithAttrs(as), r: h.r}
}

func (h replayHandler) WithGroup(name string) slog.Handler {
	return replayHandler{h: h.h.WithGroup(name), r: h.r}
}
