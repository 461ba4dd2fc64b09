package activity

import (
	"context"
	"fmt"
)

// NewVoid defines an activity that returns only an error, such as sending
// an email. It is an activity like any other (registered, mocked and
// scheduled the same way) whose result is struct{}; in workflow code,
// wait for it with workflow.Wait:
//
//	var SendEmail = activity.NewVoid("send-email", func(ctx context.Context, e Email) error { ... })
//
//	err := workflow.Wait(ctx, workflow.ExecuteActivity(ctx, SendEmail, e))
//
// NewVoid panics if name is empty or fn is nil, as [New] does.
func NewVoid[In any](name string, fn func(ctx context.Context, in In) error) *Definition[In, struct{}] {
	if fn == nil {
		panic(fmt.Sprintf("activity.NewVoid(%q): nil function", name))
	}
	if name == "" {
		panic("activity.NewVoid: empty name")
	}
	return New(name, func(ctx context.Context, in In) (struct{}, error) { return struct{}{}, fn(ctx, in) })
}
