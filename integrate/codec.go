package integrate

import (
	"context"
	"encoding/json"
	"net/http"
)

// Codec encodes requests and decodes responses of an HTTP call.
type Codec interface {
	// ContentType is sent as Content-Type and Accept.
	ContentType() string
	// Marshal encodes a request.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes a response into v.
	Unmarshal(data []byte, v any) error
}

// JSONCodec encodes with encoding/json. It is the default [Codec].
type JSONCodec struct{}

// ContentType returns "application/json".
func (JSONCodec) ContentType() string { return "application/json" }

// Marshal encodes v as JSON.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON into v.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Validator checks requests before they go out and responses before they
// are decoded, typically against an API description (package
// integrate/openapi validates against an OpenAPI 3 document). An error
// from either fails the call with a non-retryable error of type
// [TypeInvalid].
type Validator interface {
	// ValidateRequest checks req, whose body is body (nil for none).
	ValidateRequest(ctx context.Context, req *http.Request, body []byte) error
	// ValidateResponse checks the answer resp to req, whose body is body.
	ValidateResponse(ctx context.Context, req *http.Request, resp *http.Response, body []byte) error
}
