package inspect

import "github.com/chorusdev/chorus/history"

// extra adds the items of event types this file knows beyond the core
// ones; it reports whether it added one.
func extra(e history.Event, add func(history.Event, string, string) *Item) bool {
	return false
}
