package chorus

import (
	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/internal/hook"
)

func init() {
	hook.Core = func(e any) *engine.Engine { return e.(*Engine).core }
	hook.PublicErr = publicErr
}
