package chorus

import (
	"context"
	"log/slog"
)

// warnings passes on the records of its handler from the warning level up:
// the engine's default logger, so that what needs an operator's attention
// is never discarded and the rest does not flood the application's log.
type warnings struct{ slog.Handler }

func (h warnings) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnings) WithAttrs(as []slog.Attr) slog.Handler { return warnings{h.Handler.WithAttrs(as)} }

func (h warnings) WithGroup(name string) slog.Handler { return warnings{h.Handler.WithGroup(name)} }
