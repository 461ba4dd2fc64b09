package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/cli"
)

// serve starts `chorus serve` with args and returns the URL it printed and
// a function that stops it and returns its exit status.
func serve(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		c := cli.Run(ctx, append([]string{"serve"}, args...), pw, io.Discard)
		pw.Close()
		code <- c
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "serve printed nothing")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`at (http://\S+)`).FindStringSubmatch(line)
	require.NotNil(t, m, line)
	return m[1], func() int {
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
}

// chorus serve serves the dashboard of a file, on a loopback address,
// while the application owns the file; with a token, nothing without it.
func TestServe(t *testing.T) {
	f := newFixture(t)
	tokFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokFile, []byte("tok-123\n"), 0o600))
	url, stop := serve(t, f.path, "--addr", "127.0.0.1:0", "--token-file", tokFile)
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)

	get := func(path, tok string) *http.Response {
		req, err := http.NewRequest("GET", url+strings.TrimPrefix(path, "/"), nil)
		require.NoError(t, err)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	require.Equal(t, http.StatusUnauthorized, get("/", "").StatusCode)
	require.Equal(t, http.StatusUnauthorized, get("/api/runs", "").StatusCode)
	resp := get("/api/runs?workflow=order", "tok-123")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var page struct {
		Runs []struct{ ID string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	require.Len(t, page.Runs, 3)
	// Read-only: the page says why there are no buttons, the API refuses.
	resp = get("/runs/approval-1", "tok-123")
	b, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(b), `id="actions-disabled"`)
	require.NotContains(t, string(b), `name="cancel"`)
	req, _ := http.NewRequest("POST", url+"api/runs/approval-1/cancel", nil)
	req.Header.Set("Authorization", "Bearer tok-123")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	// A file no application used package events on has no events pages.
	resp = get("/", "tok-123")
	b, _ = io.ReadAll(resp.Body)
	require.NotContains(t, string(b), "/tables/outbox/")
	require.Contains(t, string(b), "/tables/schedules/", "every file has the schedules page")
	require.Equal(t, http.StatusOK, get("/tables/schedules/", "tok-123").StatusCode)
	require.Equal(t, http.StatusNotFound, get("/tables/outbox/", "tok-123").StatusCode)
	require.Equal(t, 0, stop())
}

// serve listens on 127.0.0.1 unless told otherwise, and checks its flags.
func TestServeFlags(t *testing.T) {
	code, out := (&fixture{}).run("serve", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, `(default "127.0.0.1:8233")`)
	code, out = (&fixture{}).run("serve", "x.db", "--addr", "nohost")
	require.Equal(t, cli.ExitUsage, code, out)
	require.Contains(t, out, `--addr "nohost": want HOST:PORT`)
	code, out = (&fixture{}).run("serve", "x.db", "--token", "a", "--token-file", "b")
	require.Equal(t, cli.ExitUsage, code, out)
}
