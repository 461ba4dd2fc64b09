package cli

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/schedule"
	"github.com/chorusdev/chorus/workflow"
)

// The Schedules page over a file has the rows schedule.Table gives on the
// engine that wrote it.
func TestScheduleTableOverAFile(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "chorus.db")
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	wf := workflow.New("table-job", func(ctx workflow.Context, in string) (string, error) { return in, nil })
	eng, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock})
	require.NoError(t, err)
	require.NoError(t, eng.Register(wf))
	require.NoError(t, schedule.Create(ctx, eng, "recon", schedule.Spec{Cron: "0 2 * * *", TimeZone: "Europe/Paris"}, wf, "x"))
	require.NoError(t, schedule.Create(ctx, eng, "tidy", schedule.Spec{Every: time.Hour, Paused: true}, wf, "y"))
	require.NoError(t, testutil.Await(ctx, eng, "both memos", func() (bool, error) {
		for _, id := range []string{"recon", "tidy"} {
			info, err := eng.Describe(ctx, schedule.RunID(id))
			if err != nil || info.Memo[schedule.MemoKey] == nil {
				return false, nil
			}
		}
		return true, nil
	}))
	wantHeader, want, err := schedule.Table(eng)(ctx)
	require.NoError(t, err)
	require.NoError(t, eng.Close(ctx))

	st, err := open(ctx, path)
	require.NoError(t, err)
	defer st.Close()
	tbl := scheduleTable(st)
	header, rows, err := tbl.Rows(ctx)
	require.NoError(t, err)
	require.Equal(t, wantHeader, header)
	require.Equal(t, want, rows)
	require.Len(t, rows, 2)
	require.Equal(t, "paused", rows[1][5])
}
