package orders

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// Services are the partner APIs the order flow calls, served in-process so
// the example runs anywhere: an inventory API that is slow at first, a
// payment API that fails now and then, a shipping API that starts
// answering 503 after its first orders, and a backup shipping provider.
type Services struct {
	Inventory, Payment, Shipping, BackupShipping *httptest.Server

	invCalls, payCalls, shipCalls atomic.Int64
	// ShippingHealthyFor is how many shipments the shipping API accepts
	// before it starts answering 503.
	ShippingHealthyFor int64

	mu       sync.Mutex
	charged  map[string]int // idempotency key -> cents, as the payment API records
	arrivals []time.Time    // when the payment API received each request
}

// StartServices starts the four APIs; Close stops them.
func StartServices() *Services {
	s := &Services{ShippingHealthyFor: 2, charged: map[string]int{}}
	s.Inventory = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.invCalls.Add(1) == 1 {
			// A cold cache: the first answer takes longer than the
			// caller's timeout.
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
				return
			}
		}
		var req StockRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		reply(w, Stock{SKU: req.SKU, Available: 10})
	}))
	s.Payment = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.arrivals = append(s.arrivals, time.Now())
		s.mu.Unlock()
		if s.payCalls.Add(1)%3 == 2 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"error":"try again"}`, http.StatusServiceUnavailable)
			return
		}
		var req ChargeRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		key := r.Header.Get("Idempotency-Key")
		s.mu.Lock()
		s.charged[key] = req.Cents
		s.mu.Unlock()
		reply(w, Receipt{ID: "rcpt-" + req.Order, Cents: req.Cents})
	}))
	s.Shipping = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.shipCalls.Add(1) > s.ShippingHealthyFor {
			http.Error(w, `{"error":"warehouse system down"}`, http.StatusServiceUnavailable)
			return
		}
		var req ShipRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		reply(w, Shipment{Carrier: "primary-express", Tracking: "PX-" + req.Order})
	}))
	s.BackupShipping = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req ShipRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		reply(w, Shipment{Carrier: "backup-freight", Tracking: "BF-" + req.Order})
	}))
	return s
}

// Close stops the APIs.
func (s *Services) Close() {
	for _, srv := range []*httptest.Server{s.Inventory, s.Payment, s.Shipping, s.BackupShipping} {
		srv.Close()
	}
}

// Charged returns the total the payment API charged, each idempotency key
// counted once.
func (s *Services) Charged() (charges, cents int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.charged {
		charges++
		cents += c
	}
	return charges, cents
}

// PaymentArrivals returns when the payment API received each request.
func (s *Services) PaymentArrivals() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals...)
}

// Calls returns how many requests each API received.
func (s *Services) Calls() string {
	return fmt.Sprintf("inventory %d, payment %d, shipping %d", s.invCalls.Load(), s.payCalls.Load(), s.shipCalls.Load())
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
