package events

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// AsyncAPIOptions configures [AsyncAPIWith]. A nil *AsyncAPIOptions means
// every default.
type AsyncAPIOptions struct {
	// Title names the application. Defaults to [DefaultAsyncAPITitle].
	Title string
	// Version is the version of the application's API. Defaults to
	// [DefaultAsyncAPIVersion].
	Version string
	// Description says what the application does. Defaults to "".
	Description string
}

// Defaults of [AsyncAPIOptions].
const (
	DefaultAsyncAPITitle   = "Chorus application events"
	DefaultAsyncAPIVersion = "1.0.0"
)

// AsyncAPI returns an AsyncAPI 3.0 document, as indented JSON, of the
// events defs describes: a channel per topic, a message per event type
// (the CloudEvents envelope, its data described by the JSON Schema of the
// payload type) and a send operation per message, since the application
// publishes them. Two definitions of one topic and type are an error.
func AsyncAPI(defs ...Def) ([]byte, error) { return AsyncAPIWith(nil, defs...) }

// AsyncAPIWith is [AsyncAPI] with a title, version and description.
func AsyncAPIWith(opts *AsyncAPIOptions, defs ...Def) ([]byte, error) {
	var o AsyncAPIOptions
	if opts != nil {
		o = *opts
	}
	if o.Title == "" {
		o.Title = DefaultAsyncAPITitle
	}
	if o.Version == "" {
		o.Version = DefaultAsyncAPIVersion
	}
	info := map[string]any{"title": o.Title, "version": o.Version}
	if o.Description != "" {
		info["description"] = o.Description
	}
	channels := map[string]any{}
	operations := map[string]any{}
	messages := map[string]any{}
	seen := map[[2]string]bool{}
	sorted := slices.Clone(defs)
	slices.SortStableFunc(sorted, func(a, b Def) int {
		return strings.Compare(a.Topic()+"\x00"+a.Type(), b.Topic()+"\x00"+b.Type())
	})
	for _, d := range sorted {
		if d == nil {
			return nil, fmt.Errorf("%w: nil definition", ErrInvalidDefinition)
		}
		k := [2]string{d.Topic(), d.Type()}
		if seen[k] {
			return nil, fmt.Errorf("%w: topic %q and type %q are defined twice", ErrInvalidDefinition, d.Topic(), d.Type())
		}
		seen[k] = true
		chID := asyncAPIID(d.Topic())
		msgID := asyncAPIID(d.Type())
		if _, ok := messages[msgID]; ok {
			// The same type on another topic: keep the message IDs apart.
			msgID = asyncAPIID(d.Topic() + "." + d.Type())
		}
		ch, ok := channels[chID].(map[string]any)
		if !ok {
			ch = map[string]any{"address": d.Topic(), "messages": map[string]any{}}
			channels[chID] = ch
		}
		ch["messages"].(map[string]any)[msgID] = map[string]any{"$ref": "#/components/messages/" + msgID}
		msg := map[string]any{
			"name":        d.Type(),
			"title":       d.Type(),
			"contentType": ContentType,
			"payload":     cloudEventSchema(d),
		}
		if d.Summary() != "" {
			msg["summary"] = d.Summary()
		}
		messages[msgID] = msg
		operations["send."+msgID] = map[string]any{
			"action":   "send",
			"channel":  map[string]any{"$ref": "#/channels/" + chID},
			"messages": []any{map[string]any{"$ref": "#/channels/" + chID + "/messages/" + msgID}},
		}
	}
	doc := map[string]any{
		"asyncapi":           "3.0.0",
		"info":               info,
		"defaultContentType": ContentType,
		"channels":           channels,
		"operations":         operations,
		"components":         map[string]any{"messages": messages},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("events: AsyncAPI document: %w", err)
	}
	return append(b, '\n'), nil
}

// cloudEventSchema is the JSON Schema of the structured CloudEvent that
// carries an event of d.
func cloudEventSchema(d Def) map[string]any {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	typ := map[string]any{"type": "string", "const": d.Type()}
	src := str("The service that published the event.")
	if d.Source() != "" {
		src["const"] = d.Source()
	}
	return map[string]any{
		"type":     "object",
		"required": []string{"specversion", "id", "source", "type", "time", "datacontenttype", "data"},
		"properties": map[string]any{
			"specversion":     map[string]any{"type": "string", "const": "1.0"},
			"id":              str("Unique per event; the same on every delivery of it."),
			"source":          src,
			"type":            typ,
			"subject":         str("The event's key: events of one key are delivered in order."),
			"time":            map[string]any{"type": "string", "format": "date-time"},
			"datacontenttype": map[string]any{"type": "string", "const": "application/json"},
			ExtPartitionKey:   str("The event's key, as the CloudEvents partitioning extension."),
			ExtTraceParent:    str("W3C trace context of the publishing run."),
			ExtTraceState:     str("W3C trace state of the publishing run."),
			ExtRun:            str("ID of the run that published the event."),
			"data":            d.Schema(),
		},
	}
}

// asyncAPIID turns a topic or type into a component ID (letters, digits,
// and ".-_").
func asyncAPIID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// catalogDef is a definition read back from the event catalog.
type catalogDef struct {
	topic, typ, source, summary string
	schema                      map[string]any
}

func (d *catalogDef) Topic() string          { return d.topic }
func (d *catalogDef) Type() string           { return d.typ }
func (d *catalogDef) Source() string         { return d.source }
func (d *catalogDef) Summary() string        { return d.summary }
func (d *catalogDef) Schema() map[string]any { return d.schema }

// Catalog returns the definitions [Store.Declare] recorded, by topic and
// type.
func (s *Store) Catalog(ctx context.Context) ([]Def, error) {
	if ok, err := s.hasTable(ctx, "chorus_event_catalog"); !ok {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT topic, type, source, summary, schema FROM chorus_event_catalog ORDER BY topic, type`)
	if err != nil {
		return nil, fmt.Errorf("events: read event catalog: %w", err)
	}
	defer rows.Close()
	var out []Def
	for rows.Next() {
		d := &catalogDef{}
		var schema string
		if err := rows.Scan(&d.topic, &d.typ, &d.source, &d.summary, &schema); err != nil {
			return nil, fmt.Errorf("events: read event catalog: %w", err)
		}
		if err := json.Unmarshal([]byte(schema), &d.schema); err != nil {
			return nil, fmt.Errorf("events: event catalog: schema of %s %q: %w", d.topic, d.typ, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: read event catalog: %w", err)
	}
	return out, nil
}
