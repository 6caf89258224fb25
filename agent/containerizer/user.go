package containerizer

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"

	"github.com/mezzo-project/mezzo/agent/launcher"
)

// resolveUser resolves the user a container's processes run as (a name,
// or a numeric uid), with its primary and supplementary groups and home;
// the error names a user that does not exist.
func resolveUser(name string) (*launcher.User, error) {
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		var unknownID user.UnknownUserIdError
		if errors.As(err, &unknown) || errors.As(err, &unknownID) {
			return nil, fmt.Errorf("user %q does not exist", name)
		}
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
	out := &launcher.User{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %q: supplementary groups: %w", name, err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			out.Groups = append(out.Groups, uint32(n))
		}
	}
	return out, nil
}
