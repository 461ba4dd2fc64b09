package human

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a webhook delivery.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256, keyed with
	// the webhook's secret, of the timestamp, a dot and the body.
	SignatureHeader = "X-Chorus-Signature"
	// TimestampHeader carries the Unix time of the delivery, in seconds;
	// it is signed with the body so that an old delivery cannot be
	// replayed later as new.
	TimestampHeader = "X-Chorus-Timestamp"
)

// WebhookNotifier is a [Notifier] that POSTs each [Notice] as JSON to a
// URL, signed with HMAC-SHA256 (see [SignatureHeader] and
// [VerifyWebhook]). A delivery that fails (a network error, a timeout, a
// 5xx or 429 status) is tried again after a backoff that doubles, up to
// Attempts times; a 4xx status is final. Each attempt is bounded by
// Timeout, and the whole delivery by the notify activity's context.
type WebhookNotifier struct {
	// URL receives the POSTs.
	URL string
	// Secret keys the signature.
	Secret []byte
	// Client sends the requests. Defaults to http.DefaultClient.
	Client *http.Client
	// Attempts is how many times one notice is tried. Defaults to 3.
	Attempts int
	// Backoff is the wait after the first failed attempt; it doubles
	// after each. Defaults to 500ms.
	Backoff time.Duration
	// Timeout bounds one attempt. Defaults to 10s.
	Timeout time.Duration
	// Now gives the time signed in [TimestampHeader]. Defaults to
	// time.Now.
	Now func() time.Time
}

// Webhook returns a [WebhookNotifier] for url and secret with the default
// attempts, backoff and timeout.
func Webhook(url, secret string) *WebhookNotifier {
	return &WebhookNotifier{URL: url, Secret: []byte(secret)}
}

// WebhookError is a delivery that failed for good: the last attempt's
// status (0 for a network error) and error.
type WebhookError struct {
	URL      string
	Attempts int
	Status   int
	Err      error
}

func (e *WebhookError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("human: webhook %s: status %d after %d attempt(s)", e.URL, e.Status, e.Attempts)
	}
	return fmt.Sprintf("human: webhook %s: %v after %d attempt(s)", e.URL, e.Err, e.Attempts)
}

func (e *WebhookError) Unwrap() error { return e.Err }

// Notify implements [Notifier].
func (w *WebhookNotifier) Notify(ctx context.Context, n Notice) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	attempts := w.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	backoff := w.Backoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	var last *WebhookError
	for i := 1; i <= attempts; i++ {
		if i > 1 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				last.Err = errors.Join(last.Err, ctx.Err())
				return last
			case <-t.C:
			}
			backoff *= 2
		}
		status, err := w.post(ctx, body)
		if err == nil && status < 300 {
			return nil
		}
		last = &WebhookError{URL: w.URL, Attempts: i, Status: status, Err: err}
		if err == nil && status < 500 && status != http.StatusTooManyRequests {
			return last // the receiver refused it: trying again will not help
		}
	}
	return last
}

func (w *WebhookNotifier) post(ctx context.Context, body []byte) (int, error) {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, "sha256="+sign(w.Secret, ts, body))
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by [VerifyWebhook] for a delivery whose
// signature is missing, malformed or wrong, or whose timestamp is too old.
var ErrBadSignature = errors.New("human: bad webhook signature")

// VerifyWebhook checks a webhook delivery on the receiving side: the
// signature in header must match body and the timestamp under secret, and
// the timestamp must be within maxAge of now (maxAge 0 skips that check).
// Compare in constant time, as it does, in a receiver of your own.
func VerifyWebhook(secret []byte, header http.Header, body []byte, maxAge time.Duration, now time.Time) error {
	ts := header.Get(TimestampHeader)
	sig, ok := strings.CutPrefix(header.Get(SignatureHeader), "sha256=")
	if ts == "" || !ok {
		return fmt.Errorf("%w: missing %s or %s", ErrBadSignature, SignatureHeader, TimestampHeader)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	want, _ := hex.DecodeString(sign(secret, ts, body))
	if !hmac.Equal(got, want) {
		return fmt.Errorf("%w: signature does not match", ErrBadSignature)
	}
	if maxAge > 0 {
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: timestamp %q", ErrBadSignature, ts)
		}
		if age := now.Sub(time.Unix(sec, 0)); age > maxAge || age < -maxAge {
			return fmt.Errorf("%w: timestamp %s is %v away from now", ErrBadSignature, ts, age)
		}
	}
	return nil
}
