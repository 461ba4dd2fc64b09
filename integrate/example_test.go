package integrate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/integrate"
)

// A call declared once: a 503 is retried, the idempotency key goes along,
// and a 404 fails at once with the status the workflow can route on.
func ExampleNewHTTP() {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch {
		case r.URL.Path == "/stock/missing":
			http.Error(w, `{"error":"unknown SKU"}`, http.StatusNotFound)
		case calls == 1:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			fmt.Printf("request %d with Idempotency-Key %s\n", calls, r.Header.Get("Idempotency-Key"))
			fmt.Fprint(w, `{"sku":"lamp","count":3}`)
		}
	}))
	defer srv.Close()

	type stock struct {
		SKU   string `json:"sku"`
		Count int    `json:"count"`
	}
	getStock, err := integrate.NewHTTP("inventory.stock", srv.URL, &integrate.HTTPOptions[string, stock]{
		Method: http.MethodGet,
		Path:   func(sku string) string { return "/stock/" + sku },
		Client: srv.Client(),
	})
	if err != nil {
		panic(err)
	}
	// The engine puts activity.Info in the context; here we do it by hand.
	ctx := activity.WithInfo(context.Background(), activity.Info{IdempotencyKey: "order-42/7"})

	s, err := getStock.Do(ctx, "lamp")
	fmt.Println(s.Count, err)

	_, err = getStock.Do(ctx, "missing")
	se, _ := integrate.StatusOf(err)
	fmt.Println(se.StatusCode, activity.IsNonRetryable(err), activity.TypeOf(err))
	// Output:
	// request 2 with Idempotency-Key order-42/7
	// 3 <nil>
	// 404 true integrate.HTTPStatus
}
