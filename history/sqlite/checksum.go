package sqlite

import (
	"encoding/binary"
	"hash/crc32"
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

// summer accumulates a checksum.
type summer uint32

func (s *summer) add(b []byte) { *s = summer(crc32.Update(uint32(*s), castagnoli, b)) }

func (s *summer) int(v int64) {
	var b [9]byte
	b[0] = 'i'
	binary.BigEndian.PutUint64(b[1:], uint64(v))
	s.add(b[:])
}

func (s *summer) null() { s.add([]byte{'n'}) }

func (s *summer) bytes(v []byte) {
	if len(v) == 0 {
		s.null()
		return
	}
	var b [9]byte
	b[0] = 's'
	binary.BigEndian.PutUint64(b[1:], uint64(len(v)))
	s.add(b[:])
	s.add(v)
}

func (s *summer) text(v string) {
	var b [9]byte
	b[0] = 's'
	binary.BigEndian.PutUint64(b[1:], uint64(len(v)))
	s.add(b[:])
	s.add([]byte(v))
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

// value is the checksum as stored.
func (s summer) value() int64 { return int64(int32(uint32(s))) }

// Each kind of row starts its sum with a tag of its own.
const (
	tagEvent   = 'E'
	tagRun     = 'R'
	tagOutcome = 'O'
)

// eventSum is the checksum of the events row of e in run runID.
func eventSum(runID string, e *history.Event) int64 {
	s := summer(0)
	s.add([]byte{tagEvent})
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
	s := summer(0)
	s.add([]byte{tagRun})
	s.text(id)
	s.text(workflow)
	s.time(createdAt)
	s.optText(parent)
	s.int(parentStep)
	return s.value()
}

// outcomeSum is the checksum of a run row's status, result and failure.
func outcomeSum(id string, status history.RunStatus, result, failure []byte) int64 {
	s := summer(0)
	s.add([]byte{tagOutcome})
	s.text(id)
	s.int(int64(status))
	s.bytes(result)
	s.bytes(failure)
	return s.value()
}
