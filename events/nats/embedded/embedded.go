// Package embedded runs a NATS server with JetStream inside the process,
// from the server's Go module: for tests, examples and single-binary
// deployments that want a broker without running one. It is a package of
// its own so that an application that connects to an external server
// does not link the server.
package embedded

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultReadyTimeout is how long [Start] waits for the server to accept
// connections.
const DefaultReadyTimeout = 30 * time.Second

// Options configures [Start]. A nil *Options means every default, which
// suits a test: a random port on the loopback interface and JetStream
// files in a new temporary directory.
type Options struct {
	// StoreDir is where JetStream keeps its files. Defaults to a
	// directory the server creates under the system's temporary
	// directory.
	StoreDir string
	// Host is the interface to listen on. Defaults to "127.0.0.1".
	Host string
	// Port is the port to listen on. Defaults to a free port.
	Port int
	// ReadyTimeout is how long Start waits for the server to accept
	// connections. Defaults to [DefaultReadyTimeout].
	ReadyTimeout time.Duration
}

// Server is a running NATS server.
type Server struct {
	s *server.Server
}

// Start starts a NATS server with JetStream and waits until it accepts
// connections.
func Start(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = server.RANDOM_PORT
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	s, err := server.NewServer(&server.Options{
		Host: o.Host, Port: o.Port, JetStream: true, StoreDir: o.StoreDir,
		NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("events/nats/embedded: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(o.ReadyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, errors.New("events/nats/embedded: the server did not accept connections in time")
	}
	return &Server{s: s}, nil
}

// URL returns the URL clients connect to.
func (s *Server) URL() string { return s.s.ClientURL() }

// Close shuts the server down and waits until it has stopped.
func (s *Server) Close() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}
