package human

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Assignment says who should take a task. Build one with [ToUser],
// [ToGroup], [RoundRobin] or [BySkill]. It is resolved against the
// [Directory] in an activity, so the result is journaled.
type Assignment struct {
	// Kind is "user", "group", "round-robin" or "skill".
	Kind string `json:"kind"`
	// User is the user of a "user" assignment.
	User string `json:"user,omitempty"`
	// Group is the group of a "group" or "round-robin" assignment.
	Group string `json:"group,omitempty"`
	// Skills are the skills a "skill" assignment requires, all of them.
	Skills []string `json:"skills,omitempty"`
}

// ToUser assigns the task to one user. If the user is absent, the task
// goes to [Options].Fallback, or else to the user's first group.
func ToUser(id string) Assignment { return Assignment{Kind: "user", User: id} }

// ToGroup assigns the task to a group: any member may claim and complete
// it. Membership is read from the [Directory] when a member acts. A group
// without an available member falls back to [Options].Fallback.
func ToGroup(group string) Assignment { return Assignment{Kind: "group", Group: group} }

// RoundRobin assigns the task to one available member of the group, taking
// turns ([Directory].NextTurn). With no member available the task goes to
// [Options].Fallback, or else to the group itself.
func RoundRobin(group string) Assignment { return Assignment{Kind: "round-robin", Group: group} }

// BySkill assigns the task to one available user who has every skill,
// taking turns among them. With nobody available the task goes to
// [Options].Fallback.
func BySkill(skills ...string) Assignment { return Assignment{Kind: "skill", Skills: skills} }

func (a Assignment) String() string {
	switch a.Kind {
	case "user":
		return "user " + a.User
	case "group":
		return "group " + a.Group
	case "round-robin":
		return "round-robin over " + a.Group
	case "skill":
		return "skills " + strings.Join(a.Skills, "+")
	}
	return "nobody"
}

func (a Assignment) check() error {
	switch a.Kind {
	case "user":
		if a.User == "" {
			return errors.New("ToUser with an empty user")
		}
	case "group", "round-robin":
		if a.Group == "" {
			return fmt.Errorf("%s with an empty group", a.Kind)
		}
	case "skill":
		if len(a.Skills) == 0 {
			return errors.New("BySkill without skills")
		}
	default:
		return fmt.Errorf("assignment of unknown kind %q (build it with ToUser, ToGroup, RoundRobin or BySkill)", a.Kind)
	}
	return nil
}

// assignIn is the assignment activity's input.
type assignIn struct {
	Assign   Assignment  `json:"assign"`
	Fallback *Assignment `json:"fallback,omitempty"`
}

// assignOut is where the task went: a user, a group, or both (a user
// picked from a group). Fallback is set when the first choice was absent,
// and Reason says why.
type assignOut struct {
	User     string `json:"user,omitempty"`
	Group    string `json:"group,omitempty"`
	Fallback bool   `json:"fallback,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// resolve finds the task's holder in the directory.
func resolve(ctx context.Context, dir Directory, in assignIn) (assignOut, error) {
	out, reason, err := pick(ctx, dir, in.Assign)
	if err != nil {
		return assignOut{}, err
	}
	if reason == "" {
		return out, nil
	}
	if in.Fallback != nil {
		fb, why, err := pick(ctx, dir, *in.Fallback)
		if err != nil {
			return assignOut{}, err
		}
		if why != "" {
			return assignOut{}, fmt.Errorf("%w: %s; fallback %s: %s", ErrNoAssignee, reason, in.Fallback, why)
		}
		fb.Fallback, fb.Reason = true, reason
		return fb, nil
	}
	// Without an explicit fallback, the group the assignment came from.
	switch in.Assign.Kind {
	case "user":
		u, err := dir.User(ctx, in.Assign.User)
		if err == nil && len(u.Groups) > 0 {
			return assignOut{Group: u.Groups[0], Fallback: true, Reason: reason}, nil
		}
	case "round-robin":
		return assignOut{Group: in.Assign.Group, Fallback: true, Reason: reason}, nil
	}
	return assignOut{}, fmt.Errorf("%w: %s", ErrNoAssignee, reason)
}

// pick resolves one assignment; a non-empty reason means nobody available
// was found (not an error: the caller falls back).
func pick(ctx context.Context, dir Directory, a Assignment) (assignOut, string, error) {
	if err := a.check(); err != nil {
		return assignOut{}, "", err
	}
	switch a.Kind {
	case "user":
		u, err := dir.User(ctx, a.User)
		if err != nil {
			if errors.Is(err, ErrUnknownUser) {
				return assignOut{}, fmt.Sprintf("user %s unknown", a.User), nil
			}
			return assignOut{}, "", err
		}
		if u.Absent {
			return assignOut{}, fmt.Sprintf("user %s is absent", a.User), nil
		}
		return assignOut{User: u.ID}, "", nil
	case "group":
		ms, err := dir.Members(ctx, a.Group)
		if err != nil {
			if errors.Is(err, ErrUnknownUser) {
				return assignOut{}, fmt.Sprintf("group %s unknown", a.Group), nil
			}
			return assignOut{}, "", err
		}
		if len(available(ms)) == 0 {
			return assignOut{}, fmt.Sprintf("no member of group %s is available", a.Group), nil
		}
		return assignOut{Group: a.Group}, "", nil
	case "round-robin":
		ms, err := dir.Members(ctx, a.Group)
		if err != nil && !errors.Is(err, ErrUnknownUser) {
			return assignOut{}, "", err
		}
		return rotate(ctx, dir, "group:"+a.Group, available(ms), "group "+a.Group)
	default: // skill
		us, err := dir.WithSkills(ctx, a.Skills)
		if err != nil {
			return assignOut{}, "", err
		}
		return rotate(ctx, dir, "skills:"+strings.Join(a.Skills, "+"), available(us), "skills "+strings.Join(a.Skills, "+"))
	}
}

func rotate(ctx context.Context, dir Directory, key string, us []User, what string) (assignOut, string, error) {
	if len(us) == 0 {
		return assignOut{}, "nobody available with " + what, nil
	}
	n, err := dir.NextTurn(ctx, key)
	if err != nil {
		return assignOut{}, "", err
	}
	return assignOut{User: us[n%uint64(len(us))].ID}, "", nil
}

func available(us []User) []User {
	var out []User
	for _, u := range us {
		if !u.Absent {
			out = append(out, u)
		}
	}
	return out
}
