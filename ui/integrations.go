package ui

import (
	"net/http"

	"github.com/chorusdev/chorus/integrate"
)

// The Integrations page: the circuit breakers, rate limiters and HTTP calls
// of package integrate, as counted in this process.

// integrationsData is the Integrations page and GET /api/integrations.
type integrationsData struct {
	Integrations []integrate.Stats `json:"integrations"`
}

func (s *server) integrations() *integrationsData {
	f := s.opts.Integrations
	if f == nil {
		f = integrate.Snapshot
	}
	d := &integrationsData{Integrations: f()}
	if d.Integrations == nil {
		d.Integrations = []integrate.Stats{}
	}
	return d
}

// integrationsPage is GET /integrations/.
func (s *server) integrationsPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "integrations.html", s.newPage(r, "Integrations", "integrations", s.integrations()))
}

// apiIntegrations is GET /api/integrations.
func (s *server) apiIntegrations(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.integrations())
}
