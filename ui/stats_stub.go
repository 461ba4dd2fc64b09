//go:build !kpi

package ui

import "net/http"

func (s *server) apiStats(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "not_implemented", "", "KPIs are not available in this build")
}

func (s *server) workflowsPage(w http.ResponseWriter, r *http.Request) { s.apiStats(w, r) }
func (s *server) workflowPage(w http.ResponseWriter, r *http.Request)  { s.apiStats(w, r) }
