package human

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// User is a person as the [Directory] knows them.
type User struct {
	// ID is how tasks, audit entries and the inbox name the user.
	ID string `json:"id"`
	// Name and Email are for display and notifications.
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// Groups are the groups the user belongs to: a task assigned to one
	// of them may be claimed and completed by the user.
	Groups []string `json:"groups,omitempty"`
	// Skills are matched by [BySkill].
	Skills []string `json:"skills,omitempty"`
	// Absent marks a user who cannot take tasks now (leave, holiday): an
	// assignment that picks them goes to the fallback instead.
	Absent bool `json:"absent,omitempty"`
}

// Directory is the application's view of its people. The package reads it
// only from activities (when a task is assigned or escalated, so the
// answer is journaled and replay never asks again) and from the [Inbox]
// (to learn the acting user's groups). Implementations must be safe for
// concurrent use.
type Directory interface {
	// User returns the user with the ID, or an error wrapping
	// [ErrUnknownUser].
	User(ctx context.Context, id string) (User, error)
	// Members returns the users of a group, in a stable order, or an
	// error wrapping [ErrUnknownUser] for a group it does not know.
	Members(ctx context.Context, group string) ([]User, error)
	// WithSkills returns the users that have every skill, in a stable
	// order.
	WithSkills(ctx context.Context, skills []string) ([]User, error)
	// NextTurn returns a counter for key that grows by one on each call:
	// [RoundRobin] and [BySkill] take the member at NextTurn modulo the
	// number of available candidates. Keeping the counter in the
	// directory (the application's database) shares the rotation between
	// all runs and survives restarts; the pick itself is journaled as the
	// assignment activity's result.
	NextTurn(ctx context.Context, key string) (uint64, error)
}

// MemoryDirectory is an in-memory [Directory] for tests and examples.
type MemoryDirectory struct {
	mu    sync.Mutex
	users map[string]User
	order []string
	turns map[string]uint64
}

// NewMemoryDirectory returns an empty in-memory directory.
func NewMemoryDirectory() *MemoryDirectory {
	return &MemoryDirectory{users: map[string]User{}, turns: map[string]uint64{}}
}

// Add adds users, or replaces those with the same ID. It returns the
// directory, for chaining.
func (d *MemoryDirectory) Add(users ...User) *MemoryDirectory {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range users {
		if _, ok := d.users[u.ID]; !ok {
			d.order = append(d.order, u.ID)
		}
		d.users[u.ID] = u
	}
	return d
}

// SetAbsent marks a user absent or back.
func (d *MemoryDirectory) SetAbsent(id string, absent bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[id]
	if !ok {
		return fmt.Errorf("%w: user %q", ErrUnknownUser, id)
	}
	u.Absent = absent
	d.users[id] = u
	return nil
}

// User implements [Directory].
func (d *MemoryDirectory) User(_ context.Context, id string) (User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[id]
	if !ok {
		return User{}, fmt.Errorf("%w: user %q", ErrUnknownUser, id)
	}
	return u, nil
}

// Members implements [Directory]: users in the order they were added.
func (d *MemoryDirectory) Members(_ context.Context, group string) ([]User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []User
	for _, id := range d.order {
		if u := d.users[id]; slices.Contains(u.Groups, group) {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: group %q has no members", ErrUnknownUser, group)
	}
	return out, nil
}

// WithSkills implements [Directory]: users in the order they were added.
func (d *MemoryDirectory) WithSkills(_ context.Context, skills []string) ([]User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []User
	for _, id := range d.order {
		u := d.users[id]
		ok := true
		for _, s := range skills {
			if !slices.Contains(u.Skills, s) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// NextTurn implements [Directory].
func (d *MemoryDirectory) NextTurn(_ context.Context, key string) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.turns[key]
	d.turns[key] = n + 1
	return n, nil
}
