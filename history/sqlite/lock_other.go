//go:build !unix

package sqlite

import (
	"os"
	"time"
)

// lockFile does nothing where flock is not available: there, keeping one
// engine per file is up to the application.
func lockFile(string, time.Duration, os.FileMode) (*os.File, error) { return nil, nil }
