package chorusvet

import (
	"go/types"
	"strings"
)

// Kinds of finding, used as the diagnostic category.
const (
	kindClock   = "wall-clock"
	kindGo      = "goroutine"
	kindChannel = "channel"
	kindMap     = "map-range"
	kindRandom  = "random"
	kindIO      = "io"
	kindGlobal  = "global-write"
	kindIgnore  = "ignore"
)

// A rule says why a call into the standard library has no place in
// workflow code.
type rule struct {
	kind string
	why  string
}

// knownRule returns the rule that forbids a use of fn, a function of the
// standard library or of github.com/google/uuid, or false if fn may be
// used. The lists are closed on purpose: a function of those packages that
// is not named here is trusted, so that pure helpers (strings, strconv,
// sort, time.Time's methods, uuid.Parse) never raise a finding.
func knownRule(fn *types.Func) (rule, bool) {
	pkg := fn.Pkg()
	if pkg == nil {
		return rule{}, false
	}
	path, name := pkg.Path(), fn.Name()
	recv := recvName(fn)
	switch path {
	case "time":
		if recv != "" {
			return rule{}, false
		}
		switch name {
		case "Now", "Since", "Until":
			return rule{kindClock, "wall-clock time in workflow code; use workflow.Now"}, true
		case "Sleep":
			return rule{kindClock, "wall-clock time in workflow code; use workflow.Sleep"}, true
		case "After", "Tick", "NewTimer", "NewTicker", "AfterFunc":
			return rule{kindClock, "wall-clock timer in workflow code; use workflow.NewTimer or workflow.Sleep"}, true
		}
	case "math/rand", "math/rand/v2":
		// A generator the code seeds itself (rand.New) is deterministic;
		// the package-level functions draw from a randomly seeded one.
		if recv != "" {
			return rule{}, false
		}
		switch name {
		case "New", "NewSource", "NewPCG", "NewChaCha8", "NewZipf":
			return rule{}, false
		}
		return rule{kindRandom, "random numbers in workflow code differ on replay; use workflow.NewRandom"}, true
	case "crypto/rand":
		return rule{kindRandom, "random bytes in workflow code differ on replay; use workflow.NewUUID, workflow.SideEffect or an activity"}, true
	case "github.com/google/uuid":
		// The one dependency rule: Chorus's own UUIDs come from this
		// package, and workflow.NewUUID is its replacement.
		if recv == "" && uuidGen[name] {
			return rule{kindRandom, "a generated UUID differs on replay; use workflow.NewUUID"}, true
		}
		return rule{}, false
	}
	if ioCall(path, recv, name) {
		return rule{kindIO, "file, network or OS access in workflow code; do it in an activity"}, true
	}
	return rule{}, false
}

// uuidGen are the functions of github.com/google/uuid that generate a new
// UUID from randomness or the clock.
var uuidGen = set("New", "NewString", "NewRandom", "NewRandomFromReader", "NewUUID",
	"NewV6", "NewV7", "NewV7FromReader", "NewDCEGroup", "NewDCEPerson", "NewDCESecurity")

// ioPackages are the packages whose functions reach the file system, the
// network or the process's environment, with the few pure helpers in them
// that workflow code may call.
var ioPackages = map[string]map[string]bool{
	"os": set("IsExist", "IsNotExist", "IsPermission", "IsTimeout", "IsPathSeparator",
		"NewSyscallError", "Expand"),
	"os/exec":   set(),
	"os/signal": set(),
	"os/user":   set(),
	"io/ioutil": set("NopCloser", "ReadAll"),
	"syscall":   set(),
	"net": set("ParseIP", "ParseCIDR", "IPv4", "IPv4Mask", "CIDRMask", "JoinHostPort",
		"SplitHostPort", "ParseMAC"),
	"net/http": set("StatusText", "CanonicalHeaderKey", "DetectContentType", "ParseTime",
		"ParseHTTPVersion", "NewRequest", "NewRequestWithContext"),
	"net/rpc":      set(),
	"net/smtp":     set(),
	"log/syslog":   set(),
	"database/sql": set("Named"),
	"plugin":       set(),
}

// ioTypes are the types of I/O packages whose methods do I/O. Methods of
// other types there (http.Header, net.IP, *http.Request) are pure.
var ioTypes = set(
	"os.File", "os.Process", "os/exec.Cmd",
	"net/http.Client", "net/http.Transport", "net/http.Server",
	"net.Dialer", "net.Resolver", "net.ListenConfig", "net.Conn", "net.Listener",
	"net.PacketConn", "net.TCPConn", "net.UDPConn", "net.UnixConn", "net.IPConn",
	"net.TCPListener", "net.UnixListener",
	"database/sql.DB", "database/sql.Tx", "database/sql.Conn", "database/sql.Stmt",
)

// filepathIO are the functions of path/filepath that read the file system.
var filepathIO = set("Abs", "EvalSymlinks", "Glob", "Walk", "WalkDir")

func ioCall(path, recv, name string) bool {
	if path == "path/filepath" {
		return recv == "" && filepathIO[name]
	}
	pure, ok := ioPackages[path]
	if !ok {
		return false
	}
	if recv != "" {
		return ioTypes[path+"."+recv]
	}
	return !pure[name]
}

// recvName returns the name of the type fn is a method of, or "".
func recvName(fn *types.Func) string {
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return ""
	}
	t := sig.Recv().Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := types.Unalias(t).(*types.Named); ok {
		return n.Obj().Name()
	}
	return ""
}

// isInterfaceMethod reports whether fn is a method of an interface: which
// code runs behind it cannot be known.
func isInterfaceMethod(fn *types.Func) bool {
	sig, ok := fn.Type().(*types.Signature)
	return ok && sig.Recv() != nil && types.IsInterface(sig.Recv().Type())
}

// funcName names fn for a message: pkg.Func or pkg.Type.Method.
func funcName(fn *types.Func) string {
	prefix := ""
	if fn.Pkg() != nil {
		prefix = fn.Pkg().Name() + "."
	}
	if r := recvName(fn); r != "" {
		return prefix + r + "." + fn.Name()
	}
	return prefix + fn.Name()
}

// isStd reports whether path names a package of the standard library.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
