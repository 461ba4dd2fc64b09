package inspect

import (
	"fmt"
	"strconv"

	"github.com/chorusdev/chorus/history"
)

// How encoded payloads are shown. A payload a payload codec encoded
// (compressed or encrypted, see history.PayloadCodec) is decoded with the
// codec the caller was given, if any; one that cannot be decoded (no codec,
// or not its key) is shown as a placeholder naming its key, never as its
// bytes.

// EncryptedPlaceholder is what a payload encrypted with key id shows as
// when it cannot be decrypted.
func EncryptedPlaceholder(id string) string { return fmt.Sprintf("<encrypted: key %s>", id) }

// EncodedPlaceholder is what a payload a payload codec encoded, but did not
// encrypt, shows as without the codec.
const EncodedPlaceholder = "<encoded: pass the payload codec to read it>"

// placeholder is the JSON string shown in place of the encoded payload p.
func placeholder(p []byte) []byte {
	s := EncodedPlaceholder
	if id, ok := history.PayloadKeyID(p); ok {
		s = EncryptedPlaceholder(id)
	}
	// Not json.Marshal: it would escape the angle brackets.
	return []byte(strconv.Quote(s))
}

// DecodePayload returns p decoded by pc when a payload codec encoded it
// and pc decodes it, the JSON string of its placeholder when it does not
// (or pc is nil), and p itself when no payload codec encoded it.
func DecodePayload(pc history.PayloadCodec, p []byte) []byte {
	if !history.FramedPayload(p) {
		return p
	}
	if pc != nil {
		if b, err := pc.Decode(p); err == nil {
			return b
		}
	}
	return placeholder(p)
}

// DecodeEvents returns events with their payloads decoded by pc (see
// [DecodePayload]); events itself is not changed.
func DecodeEvents(pc history.PayloadCodec, events []history.Event) []history.Event {
	out := make([]history.Event, len(events))
	for i, e := range events {
		e.Payload = DecodePayload(pc, e.Payload)
		out[i] = e
	}
	return out
}

// decodeInfo decodes the payloads of a run's row: its result and its
// failure.
func decodeInfo(pc history.PayloadCodec, info *history.RunInfo) {
	info.Result = DecodePayload(pc, info.Result)
	info.Failure = DecodePayload(pc, info.Failure)
}

// decodeTasks decodes the payloads of pending tasks: their input, the
// details of their last heartbeat and their last failure.
func decodeTasks(pc history.PayloadCodec, tasks []history.Task) {
	for i := range tasks {
		t := &tasks[i]
		t.Input = DecodePayload(pc, t.Input)
		t.Heartbeat = DecodePayload(pc, t.Heartbeat)
		t.LastFailure = DecodePayload(pc, t.LastFailure)
	}
}
