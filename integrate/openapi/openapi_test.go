package openapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/integrate/openapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const spec = `
openapi: 3.0.3
info: {title: payments, version: "1"}
servers: [{url: "https://pay.example/v1"}]
paths:
  /payments:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [order, cents]
              properties:
                order: {type: string, minLength: 1}
                cents: {type: integer, minimum: 1}
      responses:
        "200":
          description: paid
          content:
            application/json:
              schema:
                type: object
                required: [receipt]
                properties:
                  receipt: {type: string}
`

type payReq struct {
	Order string `json:"order"`
	Cents int    `json:"cents"`
}

type receipt struct {
	Receipt string `json:"receipt"`
}

func setup(t *testing.T, answer string) (*integrate.Call[payReq, receipt], *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	v, err := openapi.New(ctx, []byte(spec), &openapi.Options{BasePath: "/v1"})
	require.NoError(t, err)
	c, err := integrate.NewHTTP(t.Name(), srv.URL+"/v1/payments", &integrate.HTTPOptions[payReq, receipt]{Client: srv.Client(), Validator: v})
	require.NoError(t, err)
	return c, &hits
}

func TestValidRequestAndResponse(t *testing.T) {
	t.Parallel()
	c, hits := setup(t, `{"receipt":"r-1"}`)
	out, err := c.Do(context.Background(), payReq{Order: "o", Cents: 5})
	require.NoError(t, err)
	require.Equal(t, "r-1", out.Receipt)
	require.EqualValues(t, 1, hits.Load())
}

func TestInvalidRequestNeverGoesOut(t *testing.T) {
	t.Parallel()
	c, hits := setup(t, `{"receipt":"r-1"}`)
	_, err := c.Do(context.Background(), payReq{Order: "o", Cents: 0})
	require.ErrorContains(t, err, "cents")
	require.Equal(t, integrate.TypeInvalid, activity.TypeOf(err))
	require.True(t, activity.IsNonRetryable(err))
	require.Zero(t, hits.Load())
}

func TestInvalidResponseIsRefused(t *testing.T) {
	t.Parallel()
	c, hits := setup(t, `{"id":7}`)
	_, err := c.Do(context.Background(), payReq{Order: "o", Cents: 5})
	require.ErrorContains(t, err, "receipt")
	require.Equal(t, integrate.TypeInvalid, activity.TypeOf(err))
	require.EqualValues(t, 1, hits.Load(), "no retry of an answer that will not change")
}

func TestBadDocument(t *testing.T) {
	t.Parallel()
	_, err := openapi.New(context.Background(), []byte(`{"openapi":"3.0.0"}`), nil)
	require.ErrorContains(t, err, "openapi:")
	b, _ := json.Marshal(map[string]any{"openapi": "3.0.0", "info": map[string]any{"title": "x", "version": "1"}, "paths": map[string]any{}})
	v, err := openapi.New(context.Background(), b, nil)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "http://x/nothing", nil)
	require.ErrorIs(t, v.ValidateRequest(context.Background(), req, nil), openapi.ErrNoRoute)
}
