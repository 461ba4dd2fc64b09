//go:build browser

// The dashboard, driven by headless Chromium: go test -tags browser -run
// Browser ./ui/ (.ci/run installs Chromium and runs it). Screenshots of
// the pages go to $CHORUS_SCREENSHOTS, or to a temporary directory.
package ui_test

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium with a fresh profile and a 1280x800
// window, and returns the context of a tab in it; the browser ends with
// the test. Without Chromium the test is skipped.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("needs Chromium at %s (Debian package chromium); .ci/run installs it", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		// Without these Chromium reaches for the network, which a closed
		// network makes it wait for.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	return ctx
}

// The fixture holds the runs, in the states, that the browser checks
// look for.
func TestBrowserFixture(t *testing.T) {
	f := newFixture(t)
	want := map[string]chorus.RunStatus{
		orderID: chorus.StatusCompleted, refundID: chorus.StatusFailed, tripID: chorus.StatusFailed,
		upgradeID: chorus.StatusBlocked, waitingID: chorus.StatusRunning, approvedID: chorus.StatusCompleted,
		parentID: chorus.StatusRunning, childID: chorus.StatusCompleted, globexID: chorus.StatusCompleted,
	}
	for id, st := range want {
		info, err := f.eng.Describe(context.Background(), id)
		require.NoError(t, err, id)
		require.Equal(t, st, info.Status, id)
	}
	require.Len(t, f.ids, 13)
}
