package chorustest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	stdtesting "testing"
	"time"
)

// tLogWriter turns each record that slog's text handler writes (one Write
// per record) into one t.Log call. Once the env is closed it drops records:
// t.Log panics after the test has ended.
type tLogWriter struct {
	t      stdtesting.TB
	closed *atomic.Bool
}

func (w tLogWriter) Write(p []byte) (int, error) {
	if !w.closed.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// newTestLogger returns a logger that writes records at level or above to
// t.Log, stamped with the fake time elapsed since the env started instead of
// the wall clock.
func newTestLogger(t stdtesting.TB, level slog.Leveler, elapsed func() time.Duration, closed *atomic.Bool) *slog.Logger {
	var w io.Writer = tLogWriter{t: t, closed: closed}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.String("fake_time", "+"+elapsed().String())
			}
			return a
		},
	})
	return slog.New(quietHandler{h, closed})
}

// quietHandler stops asking for records once the env is closed, so nothing
// is even formatted after the test.
type quietHandler struct {
	slog.Handler
	closed *atomic.Bool
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !h.closed.Load() && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as), h.closed}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name), h.closed}
}
