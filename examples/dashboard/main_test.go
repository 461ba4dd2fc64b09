package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The example serves the dashboard with its three runs, behind the token.
func TestDashboardExample(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, filepath.Join(t.TempDir(), "d.db"), "tok") }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("serve did not return after its context ended")
		}
	}()

	get := func(path, token string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	// The listener is open before serve starts: requests wait in its
	// backlog until the demo runs are in.
	code, _ := get("/chorus/api/runs", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := get("/chorus/api/runs", "tok")
	require.Equal(t, http.StatusOK, code, body)
	for _, id := range []string{`"order-42"`, `"trip-7"`, `"claim-310"`} {
		require.True(t, strings.Contains(body, id), "%s in %s", id, body)
	}
	code, body = get("/chorus/api/runs/trip-7", "tok")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"status": "failed"`)
	require.Contains(t, body, "cancel-flight")
}
