package launcher

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// ErrUnknownUser is returned (wrapped) by LookupUser for a user that
// does not exist.
var ErrUnknownUser = errors.New("user does not exist")

// LookupUser resolves a user name (or a numeric uid) into the User a
// command runs as: its uid, primary gid, supplementary groups and home
// directory, from the system's user database. An unknown user is an
// error wrapping ErrUnknownUser and naming it: `user "x" does not exist`.
func LookupUser(name string) (*User, error) {
	u, err := user.Lookup(name)
	if _, unknown := err.(user.UnknownUserError); unknown {
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	switch err.(type) {
	case nil:
	case user.UnknownUserError, user.UnknownUserIdError:
		return nil, &unknownUser{name: name}
	default:
		return nil, fmt.Errorf("look up user %q: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %q: its groups: %w", name, err)
	}
	out := &User{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	for _, id := range ids {
		g, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %q: group id %q: %w", name, id, err)
		}
		out.Groups = append(out.Groups, uint32(g))
	}
	if len(out.Groups) == 0 {
		out.Groups = []uint32{out.GID}
	}
	return out, nil
}

// unknownUser is LookupUser's error for a user that does not exist.
type unknownUser struct{ name string }

func (e *unknownUser) Error() string { return fmt.Sprintf("user %q does not exist", e.name) }

func (e *unknownUser) Unwrap() error { return ErrUnknownUser }
