package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Authenticator decides who makes a request. Authenticate returns the
// caller's identity, recorded in the journal with each action they take,
// or an error when the request carries no valid credentials: the
// dashboard then answers 401 (with a sign-in form for a browser).
type Authenticator interface {
	Authenticate(r *http.Request) (identity string, err error)
}

// AuthFunc is an [Authenticator] written as a function: typically the
// application's own authentication, which finds its user in the request
// (a context value its middleware set, its own session cookie) and returns
// the user's name.
type AuthFunc func(r *http.Request) (identity string, err error)

// Authenticate calls f.
func (f AuthFunc) Authenticate(r *http.Request) (string, error) { return f(r) }

// ErrNoCredentials is the error of an authenticator for a request that
// carries no credentials, or wrong ones.
var ErrNoCredentials = errors.New("ui: missing or invalid credentials")

// BearerToken is an [Authenticator] that accepts requests with the header
// "Authorization: Bearer TOKEN" (compared in constant time), under the
// identity "token". Browsers exchange the token once, through the sign-in
// form, for a session cookie. An empty token is refused by [Handler].
func BearerToken(token string) Authenticator { return &tokenAuth{label: "token", token: token} }

// LabeledBearerToken is [BearerToken] with the identity label, such as
// "ops-team", recorded in the journal for the actions taken with it.
func LabeledBearerToken(label, token string) Authenticator {
	return &tokenAuth{label: label, token: token}
}

type tokenAuth struct{ label, token string }

func (t *tokenAuth) Authenticate(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || t.token == "" {
		return "", ErrNoCredentials
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(t.token)) != 1 {
		return "", ErrNoCredentials
	}
	return t.label, nil
}

const sessionCookie = "chorus_session"

// session is the signed content of the session cookie.
type session struct {
	Identity string `json:"i"`
	Expires  int64  `json:"e"` // Unix seconds
	Nonce    string `json:"n"`
}

func (s *server) sign(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)
}

// authenticate finds the caller: by the Authorization header, else by the
// session cookie, else by the authenticator alone (an application's own
// cookie). With no authenticator everyone is "anonymous".
func (s *server) authenticate(r *http.Request) (caller, error) {
	if s.opts.Auth == nil {
		c := caller{Identity: "anonymous"}
		if sess, ok := s.readSession(r); ok {
			c.Session = sess.Nonce
		}
		return c, nil
	}
	if r.Header.Get("Authorization") != "" {
		who, err := s.opts.Auth.Authenticate(r)
		if err != nil {
			return caller{}, err
		}
		return caller{Identity: nonEmpty(who), Header: true}, nil
	}
	if sess, ok := s.readSession(r); ok {
		return caller{Identity: sess.Identity, Session: sess.Nonce}, nil
	}
	who, err := s.opts.Auth.Authenticate(r)
	if err != nil {
		return caller{}, err
	}
	return caller{Identity: nonEmpty(who)}, nil
}

func nonEmpty(who string) string {
	if who == "" {
		return "anonymous"
	}
	return who
}

// newSession makes the cookie of a session for identity.
func (s *server) newSession(r *http.Request, identity string) *http.Cookie {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	exp := time.Now().Add(s.opts.SessionTTL)
	b, _ := json.Marshal(session{Identity: identity, Expires: exp.Unix(), Nonce: base64.RawURLEncoding.EncodeToString(nonce)})
	v := base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(s.sign(b))
	return &http.Cookie{Name: sessionCookie, Value: v, Path: s.path("/"), Expires: exp, MaxAge: int(s.opts.SessionTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode}
}

// readSession returns the session of the request's cookie when its
// signature holds and it has not expired.
func (s *server) readSession(r *http.Request) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	body, sig, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return session{}, false
	}
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.sign(b)) {
		return session{}, false
	}
	var sess session
	if json.Unmarshal(b, &sess) != nil || time.Now().Unix() >= sess.Expires || sess.Nonce == "" {
		return session{}, false
	}
	return sess, true
}

// csrfToken is the CSRF token of the caller's forms: bound to their
// session, or, without one, to their identity.
func (s *server) csrfToken(c caller) string {
	binding := "id\x00" + c.Identity
	if c.Session != "" {
		binding = "session\x00" + c.Session
	}
	return base64.RawURLEncoding.EncodeToString(s.sign([]byte("csrf\x00" + binding)))
}

// checkCSRF reports whether the request carries the caller's CSRF token,
// in the form field "csrf" or the header X-CSRF-Token.
func (s *server) checkCSRF(r *http.Request, c caller) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	want := s.csrfToken(c)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// unauthorized answers a request without valid credentials: JSON for the
// API, the sign-in form for a browser.
func (s *server) unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="chorus"`)
	if isAPI(r) || !wantsHTML(r) {
		writeError(w, http.StatusUnauthorized, "unauthorized", "", "authentication required: send Authorization: Bearer TOKEN")
		return
	}
	next := r.URL.RequestURI()
	if r.Method != http.MethodGet {
		next = "/"
	}
	msg := ""
	if r.Header.Get("Authorization") != "" || hasCookie(r) {
		msg = "Your credentials were not accepted; sign in again."
	}
	s.renderLogin(w, http.StatusUnauthorized, next, msg)
}

func hasCookie(r *http.Request) bool {
	_, err := r.Cookie(sessionCookie)
	return err == nil
}

// loginPage shows the sign-in form (to callers signed in too).
func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, http.StatusOK, r.URL.Query().Get("next"), "")
}

// login exchanges a token for a session cookie.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := safeNext(r.PostFormValue("next"))
	if s.opts.Auth == nil {
		http.Redirect(w, r, s.path(next), http.StatusSeeOther)
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	probe := r.Clone(r.Context())
	probe.Header = http.Header{"Authorization": {"Bearer " + tok}}
	who, err := s.opts.Auth.Authenticate(probe)
	if tok == "" || err != nil {
		s.renderLogin(w, http.StatusUnauthorized, next, "That token was not accepted.")
		return
	}
	http.SetCookie(w, s.newSession(r, nonEmpty(who)))
	http.Redirect(w, r, s.path(next), http.StatusSeeOther)
}

// logout ends the browser session.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if c.Session != "" && !s.checkCSRF(r, c) {
		s.fail(w, r, http.StatusForbidden, "csrf", "csrf", "CSRF token missing or invalid: reload the page and try again")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: s.path("/"), MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, s.path("/login"), http.StatusSeeOther)
}

// safeNext keeps a post-sign-in target inside the dashboard.
func safeNext(n string) string {
	if !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.ContainsAny(n, "\\\r\n") {
		return "/"
	}
	return n
}

func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api"
}

func wantsHTML(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return a == "" || strings.Contains(a, "text/html") || strings.Contains(a, "*/*")
}
