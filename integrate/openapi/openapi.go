// Package openapi validates the requests and responses of integrate's HTTP
// calls against an OpenAPI 3 document:
//
//	v, err := openapi.New(ctx, specBytes, nil)
//	var Pay = integrate.HTTP[PayReq, Receipt]("payments.pay", "https://pay.example/v1/payments",
//		&integrate.HTTPOptions[PayReq, Receipt]{Validator: v})
//
// A request that does not match the document never goes out, and a response
// that does not match is not decoded: the call fails with a non-retryable
// error of type integrate.TypeInvalid that says what did not match. The
// validator lives in its own package so that the OpenAPI library reaches
// only the programs that import it.
package openapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/chorusdev/chorus/integrate"
)

// Options configures a [Validator]. A nil *Options means every default.
type Options struct {
	// BasePath is cut from the start of each request's path before it is
	// matched against the document's paths, for endpoints such as
	// "https://pay.example/v1" whose document lists "/payments". The
	// document's servers are not used for matching, so the same document
	// serves every environment. Defaults to "".
	BasePath string
	// SkipResponses checks requests only. Defaults to false.
	SkipResponses bool
}

// Validator checks requests and responses against an OpenAPI 3 document.
// It implements integrate.Validator and is safe for concurrent use.
type Validator struct {
	router routers.Router
	opts   Options
}

var _ integrate.Validator = (*Validator)(nil)

// New loads an OpenAPI 3 document (JSON or YAML) and returns a validator
// for it. It fails if the document does not load or is not valid.
func New(ctx context.Context, document []byte, opts *Options) (*Validator, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("openapi: load document: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi: invalid document: %w", err)
	}
	doc.Servers = nil // match paths alone (see Options.BasePath)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	v := &Validator{router: router}
	if opts != nil {
		v.opts = *opts
	}
	v.opts.BasePath = strings.TrimSuffix(v.opts.BasePath, "/")
	return v, nil
}

// ErrNoRoute is matched by the error for a request whose method and path
// the document does not describe.
var ErrNoRoute = errors.New("openapi: no operation in the document for this request")

func (v *Validator) input(req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	r := req.Clone(req.Context())
	u := *req.URL
	if v.opts.BasePath != "" {
		p, ok := strings.CutPrefix(u.Path, v.opts.BasePath)
		if !ok {
			return nil, fmt.Errorf("%w: path %q is not under base path %q", ErrNoRoute, u.Path, v.opts.BasePath)
		}
		if p == "" {
			p = "/"
		}
		u.Path, u.RawPath = p, ""
	}
	r.URL = &u
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrNoRoute, r.Method, u.Path, err)
	}
	return &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}, nil
}

// ValidateRequest checks req (whose body is body) against the document.
func (v *Validator) ValidateRequest(ctx context.Context, req *http.Request, body []byte) error {
	in, err := v.input(req, body)
	if err != nil {
		return err
	}
	return openapi3filter.ValidateRequest(ctx, in)
}

// ValidateResponse checks resp (whose body is body) against the responses
// the document lists for req's operation.
func (v *Validator) ValidateResponse(ctx context.Context, req *http.Request, resp *http.Response, body []byte) error {
	if v.opts.SkipResponses {
		return nil
	}
	in, err := v.input(req, nil)
	if err != nil {
		return err
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(ctx, out)
}
