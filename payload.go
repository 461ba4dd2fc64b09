package chorus

// DecodePayload decodes b, a payload the engine hands out as bytes
// ([PendingActivity].HeartbeatDetails, a value of [RunInfo].Memo), into
// the value v points to, with the engine's Codec and, when one is set, its
// PayloadCodec. A payload encrypted with a key that is not configured gives
// an error matching [ErrPayloadKey].
func (e *Engine) DecodePayload(b []byte, v any) error {
	return e.codec.Unmarshal(b, v)
}
