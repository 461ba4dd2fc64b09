package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// outcomeField is one input of a task's generated completion form: a
// top-level field of the example outcome's JSON.
type outcomeField struct {
	Key string
	// Kind is "string", "number" or "bool".
	Kind  string
	Value string
}

// outcomeFields lists the fields of example's JSON, in order, when it is
// an object whose values are strings, numbers and booleans; otherwise it
// says why not.
func outcomeFields(example any) ([]outcomeField, error) {
	b, err := json.Marshal(example)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s is not a JSON object", b)
	}
	var out []outcomeField
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		f := outcomeField{Key: k.(string)}
		switch v := v.(type) {
		case string:
			f.Kind, f.Value = "string", v
		case json.Number:
			f.Kind, f.Value = "number", v.String()
		case bool:
			f.Kind, f.Value = "bool", fmt.Sprint(v)
		default:
			return nil, fmt.Errorf("field %q is %T, not a string, a number or a boolean", f.Key, v)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no fields", b)
	}
	return out, nil
}

// checkOutcomes checks every example of opts.Outcomes.
func checkOutcomes(outcomes map[string]any) error {
	for kind, ex := range outcomes {
		if _, err := outcomeFields(ex); err != nil {
			return fmt.Errorf("ui: Options.Outcomes[%q]: want a value whose JSON is an object of strings, numbers and booleans: %w", kind, err)
		}
	}
	return nil
}

// outcomeFromFields builds the outcome a generated form sent: the fields
// named by the "field" values, in their order, each with its "kind." and
// "value." inputs. An empty number is left out; an unchecked boolean is
// false. The task's own check then decides whether it is a valid outcome.
func outcomeFromFields(form url.Values) (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for _, k := range form["field"] {
		val := form.Get("value." + k)
		var enc []byte
		switch kind := form.Get("kind." + k); kind {
		case "string":
			enc, _ = json.Marshal(val) // a string always encodes
		case "number":
			val = strings.TrimSpace(val)
			if val == "" {
				continue
			}
			var n json.Number
			if json.Unmarshal([]byte(val), &n) != nil {
				return nil, badField("outcome", "field %s: %q is not a number", k, val)
			}
			enc = []byte(n)
		case "bool":
			enc = []byte(fmt.Sprint(val == "true"))
		default:
			return nil, badField("outcome", "field %s: unknown kind %q (want string, number or bool)", k, kind)
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
