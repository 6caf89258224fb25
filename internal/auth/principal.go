// Package auth carries who made a request through the master and the
// agent: authentication (package-level helpers here and in the files
// next to this one) finds a request's principal, authorization asks what
// that principal may do.
package auth

import "context"

type principalKey struct{}

// WithPrincipal returns ctx carrying principal: the authenticated
// identity of the request ctx belongs to.
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey{}, principal)
}

// PrincipalFrom returns the principal an authenticator attached to ctx,
// and whether there is one. A request that was not authenticated (no
// credentials, or authentication turned off) has none: authorization
// then treats it as Mesos treats an anonymous subject.
func PrincipalFrom(ctx context.Context) (string, bool) {
	p, ok := ctx.Value(principalKey{}).(string)
	return p, ok
}
