package engine

import (
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
)

// QueryHandler answers a query with an encoded result, given the encoded
// argument. It runs outside the run's coroutines and must not block or
// issue commands.
type QueryHandler func(arg []byte) ([]byte, error)

// ErrUnknownQuery is returned for a query the run registered no handler for.
var ErrUnknownQuery = errors.New("chorus: unknown query")

// ErrQueryMisuse is returned when a query handler tries to block or issue a
// command.
var ErrQueryMisuse = errors.New("chorus: query handlers must not block or issue commands")

// SetQueryHandler registers h under name for the run; a later registration
// replaces an earlier one.
func (r *Run) SetQueryHandler(name string, h QueryHandler) {
	r.queries[name] = h
}

// answerQuery runs a query against the run as it stands after the inputs
// applied before it; the answer is sent once the round commits, so a caller
// never sees state the journal may not keep.
func (r *Run) answerQuery(in input) {
	var ans []byte
	var err error
	switch {
	case r.blocked != nil:
		err = &BlockedError{RunID: r.id, Reason: r.blocked.Error(), Cause: r.blocked}
	default:
		h := r.queries[in.name]
		if h == nil {
			names := make([]string, 0, len(r.queries))
			for n := range r.queries {
				names = append(names, n)
			}
			slices.Sort(names)
			err = fmt.Errorf("%w %q for run %q (it handles: %s)", ErrUnknownQuery, in.name, r.id, strings.Join(names, ", "))
			break
		}
		ans, err = r.callQuery(h, in.payload)
	}
	r.round.queries = append(r.round.queries, queryAnswer{in: in, answer: ans, err: err})
}

func (r *Run) callQuery(h QueryHandler, arg []byte) (ans []byte, err error) {
	r.inQuery = true
	r.control()
	defer func() {
		r.release()
		r.inQuery = false
		if p := recover(); p != nil {
			if m, ok := p.(errQueryMisuse); ok {
				err = fmt.Errorf("%w (it called %s)", ErrQueryMisuse, m.what)
				return
			}
			err = fmt.Errorf("chorus: query handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return h(arg)
}

func (r *Run) sendQueryAnswers(commitErr error) {
	for _, q := range r.round.queries {
		err := q.err
		if err == nil && commitErr != nil {
			err = commitErr
		}
		if err == nil {
			q.in.query <- q.answer
		}
		q.in.answer(err)
	}
	r.round.queries = nil
}
