package sqlite

import (
	"encoding/binary"
	"hash/crc32"
	"sync"
	"time"

	"github.com/chorusdev/chorus/history"
)

// A row's checksum is the CRC-32C of its values in column order, each
// tagged with its kind so that no two rows share an encoding: an integer as
// 'i' and 8 bytes big-endian, text or a BLOB as 's' and its length (8
// bytes) then its bytes, NULL as 'n'. An empty payload is stored as NULL
// and reads back as nil, so it sums as NULL; likewise the zero time and an
// empty parent. The sum is stored as a signed 32-bit integer, which SQLite
// keeps in 4 bytes.
//
// A checksum tells damage from data: it is not a defence against someone
// who can write the file, who can recompute it.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// summer accumulates a checksum. It gathers small values in buf and feeds
// the CRC in few calls; a large BLOB goes to the CRC directly, uncopied.
type summer struct {
	crc uint32
	buf []byte
}

// bigBlob is the size from which a BLOB is not copied into buf.
const bigBlob = 256

var summers = sync.Pool{New: func() any { return &summer{buf: make([]byte, 0, 2*bigBlob)} }}

// newSummer returns a summer that starts its sum with tag; its value
// method returns it to the pool.
func newSummer(tag byte) *summer {
	s := summers.Get().(*summer)
	s.crc = 0
	s.buf = append(s.buf[:0], tag)
	return s
}

func (s *summer) flush() {
	s.crc = crc32.Update(s.crc, castagnoli, s.buf)
	s.buf = s.buf[:0]
}

func (s *summer) int(v int64) {
	s.buf = append(s.buf, 'i')
	s.buf = binary.BigEndian.AppendUint64(s.buf, uint64(v))
}

func (s *summer) null() { s.buf = append(s.buf, 'n') }

func (s *summer) bytes(v []byte) {
	if len(v) == 0 {
		s.null()
		return
	}
	s.buf = append(s.buf, 's')
	s.buf = binary.BigEndian.AppendUint64(s.buf, uint64(len(v)))
	if len(v) < bigBlob {
		s.buf = append(s.buf, v...)
		return
	}
	s.flush()
	s.crc = crc32.Update(s.crc, castagnoli, v)
}

func (s *summer) text(v string) {
	s.buf = append(s.buf, 's')
	s.buf = binary.BigEndian.AppendUint64(s.buf, uint64(len(v)))
	s.buf = append(s.buf, v...)
}

// optText sums text stored as NULL when empty (see text).
func (s *summer) optText(v string) {
	if v == "" {
		s.null()
		return
	}
	s.text(v)
}

// time sums a time as it is stored (see encTime).
func (s *summer) time(t time.Time) {
	if t.IsZero() {
		s.null()
		return
	}
	s.int(t.UnixNano())
}

// value returns the checksum as stored, and s to the pool.
func (s *summer) value() int64 {
	s.flush()
	v := int64(int32(s.crc))
	if cap(s.buf) <= 4*bigBlob { // a long name or ID grew it: let it go
		summers.Put(s)
	}
	return v
}

// Each kind of row starts its sum with a tag of its own.
const (
	tagEvent   = 'E'
	tagRun     = 'R'
	tagOutcome = 'O'
	tagTask    = 'T'
	tagAttempt = 'A'
	tagState   = 'S'
	tagFailure = 'F'
)

// eventSum is the checksum of the events row of e in run runID.
func eventSum(runID string, e *history.Event) int64 {
	s := newSummer(tagEvent)
	s.text(runID)
	s.int(e.Seq)
	s.int(int64(e.Type))
	s.text(e.Name)
	s.int(e.Ref)
	s.bytes(e.Payload)
	s.time(e.Time)
	return s.value()
}

// runSum is the checksum of the columns a run row fixes at its creation.
func runSum(id, workflow string, createdAt time.Time, parent string, parentStep int64) int64 {
	s := newSummer(tagRun)
	s.text(id)
	s.text(workflow)
	s.time(createdAt)
	s.optText(parent)
	s.int(parentStep)
	return s.value()
}

// outcomeSum is the checksum of a run row's status, result and failure.
func outcomeSum(id string, status history.RunStatus, result, failure []byte) int64 {
	s := newSummer(tagOutcome)
	s.text(id)
	s.int(int64(status))
	s.bytes(result)
	s.bytes(failure)
	return s.value()
}

// taskSum is the checksum of the columns a task row fixes when it is
// added, with kind as stored (never zero).
func taskSum(runID string, step int64, kind history.TaskKind, name string, input, options []byte) int64 {
	s := newSummer(tagTask)
	s.text(runID)
	s.int(step)
	s.int(int64(kind))
	s.text(name)
	s.bytes(input)
	s.bytes(options)
	return s.value()
}

// attemptSum is the checksum of a task row's attempt and not_before, which
// an update rewrites together.
func attemptSum(runID string, step int64, attempt int, notBefore time.Time) int64 {
	s := newSummer(tagAttempt)
	s.text(runID)
	s.int(step)
	s.int(int64(attempt))
	s.time(notBefore)
	return s.value()
}

// stateSum is the checksum of a task row's pending, heartbeat and
// canceled, which an update rewrites together.
func stateSum(runID string, step int64, pending time.Time, heartbeat []byte, canceled bool) int64 {
	s := newSummer(tagState)
	s.text(runID)
	s.int(step)
	s.time(pending)
	s.bytes(heartbeat)
	var c int64
	if canceled {
		c = 1
	}
	s.int(c)
	return s.value()
}

// failureSum is the checksum of a task row's last_failure and
// first_failure_at, which an update rewrites together.
func failureSum(runID string, step int64, lastFailure []byte, firstFailureAt time.Time) int64 {
	s := newSummer(tagFailure)
	s.text(runID)
	s.int(step)
	s.bytes(lastFailure)
	s.time(firstFailureAt)
	return s.value()
}
