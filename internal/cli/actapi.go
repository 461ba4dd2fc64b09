package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
)

// apiTimeout bounds one call to a dashboard's API.
const apiTimeout = time.Minute

// maxAPIAnswer bounds what is read of an answer.
const maxAPIAnswer = 1 << 20

// apiClient calls the action routes of the dashboard (package ui) of the
// process that owns a file.
type apiClient struct {
	base  string // the URL the dashboard is mounted at, without a final "/"
	token string
	http  *http.Client
}

// newAPIClient checks addr: an http or https URL with a host, and neither
// query nor fragment; a bare HOST:PORT, as `chorus serve --addr` takes, is
// http://HOST:PORT. The token is token, else $CHORUS_TOKEN.
func newAPIClient(addr, token string) (*apiClient, error) {
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usagef("--addr %q is not a URL: %v", cut(addr), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, usagef("--addr %q: want the http:// or https:// URL of the dashboard, such as http://127.0.0.1:8080/chorus", cut(addr))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, usagef("--addr %q: want the URL the dashboard is mounted at, without credentials, query or fragment (the token goes in --token)", cut(addr))
	}
	if token == "" {
		token = os.Getenv("CHORUS_TOKEN")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return &apiClient{
		base:  u.String(),
		token: token,
		http: &http.Client{
			Timeout: apiTimeout,
			// A command makes one call or two: no connection is kept.
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true},
			// A redirect would turn the POST into a GET: say where it
			// points instead of following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// apiErrorBody is the body of the dashboard API's errors.
type apiErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	Field string `json:"field"`
}

// act posts a's action and fills in what the process answered.
func (c *apiClient) act(ctx context.Context, a *act) error {
	var body any = struct{}{}
	switch a.Action {
	case actSignal:
		body = map[string]any{"name": a.Signal, "payload": a.Payload}
	case actTerminate:
		body = map[string]string{"reason": a.Reason}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	route := c.base + "/api/runs/" + url.PathEscape(a.RunID) + "/" + a.Action
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, route, bytes.NewReader(b))
	if err != nil {
		return usagef("--addr %q: %v", cut(c.base), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the process at %s (is it running, and is --addr its dashboard's URL? with no process running, act on the file instead): %w", c.base, err)
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIAnswer))
	if err != nil {
		return fmt.Errorf("the process at %s: reading its answer: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return c.refused(resp, ans, a)
	}
	var ok struct {
		RunID    string `json:"run_id"`
		Action   string `json:"action"`
		Identity string `json:"identity"`
	}
	if err := json.Unmarshal(ans, &ok); err != nil || ok.Action != a.Action {
		return fmt.Errorf("the process at %s answered %s with %q, not the dashboard API's answer: is --addr the URL the dashboard is mounted at?", c.base, resp.Status, cut(string(ans)))
	}
	a.Via, a.Addr, a.Identity = viaProcess, c.base, ok.Identity
	a.Outcome, a.Note = outcomeDone, "done: journaled by the process that owns the file"
	// The action is done; its run's workflow and new status are a bonus,
	// left out if the process does not tell them.
	a.Workflow, a.Status = c.run(ctx, a.RunID)
	return nil
}

// run reads the run's workflow and status from GET /api/runs/{id}; empty
// strings when that fails.
func (c *apiClient) run(ctx context.Context, id string) (workflow, status string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/runs/"+url.PathEscape(id), nil)
	if err != nil {
		return "", ""
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", ""
	}
	defer resp.Body.Close()
	var v struct {
		Workflow string `json:"workflow"`
		Status   string `json:"status"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, maxAPIAnswer)).Decode(&v) != nil {
		return "", ""
	}
	return v.Workflow, v.Status
}

// refused turns an error answer into an error that says what was wrong,
// wrapping the engine's error where the code names one.
func (c *apiClient) refused(resp *http.Response, ans []byte, a *act) error {
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		return fmt.Errorf("the process at %s answered %s, redirecting to %s: give --addr the URL the dashboard is mounted at", c.base, resp.Status, cut(loc))
	}
	var e apiErrorBody
	if err := json.Unmarshal(ans, &e); err != nil || e.Code == "" {
		return fmt.Errorf("the process at %s answered %s, not the dashboard API's error: is --addr the URL the dashboard is mounted at?", c.base, resp.Status)
	}
	msg := e.Error
	if e.Field != "" && !strings.HasPrefix(msg, e.Field) {
		msg = e.Field + ": " + msg
	}
	detail := fmt.Sprintf("the process at %s answered %d %s: %s", c.base, resp.StatusCode, e.Code, msg)
	id := strconv.Quote(a.RunID)
	switch e.Code {
	case "unauthorized":
		return fmt.Errorf("the process refused the credentials: pass its dashboard's token with --token or CHORUS_TOKEN (%s)", detail)
	case "not_found":
		return &refusal{fmt.Sprintf("no run with ID %s (%s)", id, detail), history.ErrRunNotFound}
	case "run_ended":
		return &refusal{fmt.Sprintf("run %s has ended: nothing to %s (%s)", id, a.Action, detail), chorus.ErrRunEnded}
	case "run_blocked":
		return &refusal{fmt.Sprintf("run %s is blocked (%s)", id, detail), chorus.ErrRunBlocked}
	case "actions_disabled":
		return fmt.Errorf("this dashboard takes no actions (it is read-only, or it is `chorus serve`, which does not own the file): point --addr to the dashboard the application mounts (%s)", detail)
	}
	return errors.New("the " + a.Action + " was refused (" + detail + ")")
}

// refusal is a dashboard's refusal that means an engine's error: it says
// what the server said, and errors.Is finds the engine's error.
type refusal struct {
	msg string
	err error
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.err }
