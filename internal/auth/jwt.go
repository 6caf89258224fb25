package auth

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// ExecutorTokenEnv is the environment variable in which the agent hands
// an executor its token, Mesos' name.
const ExecutorTokenEnv = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"

// ExecutorClaims are what an executor's token asserts, with Mesos' claim
// names: the framework, executor and container it was issued for. Mesos'
// tokens carry no expiry, and neither do these: a token is good as long
// as its container runs, and the agent checks the container on each call.
type ExecutorClaims struct {
	FrameworkID string `json:"fid"`
	ExecutorID  string `json:"eid"`
	ContainerID string `json:"cid"`
}

// ErrInvalidToken is wrapped by the errors of VerifyExecutorToken.
var ErrInvalidToken = errors.New("invalid executor token")

// ReadSecretKey reads the key that signs executor tokens (--jwt_secret_key,
// a path or file:///path). An empty key is an error naming the file.
func ReadSecretKey(path string) ([]byte, error) {
	path = strings.TrimPrefix(path, "file://")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key file %s: %w", path, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("secret key file %s is empty", path)
	}
	return b, nil
}

// IssueExecutorToken signs c with key as a JWT (HS256), as Mesos' agent
// does for each executor it launches. Claims that are not valid UTF-8
// are refused.
func IssueExecutorToken(key []byte, c ExecutorClaims) (string, error) {
	if len(key) == 0 {
		return "", errors.New("issue executor token: no secret key")
	}
	// JSON carries text only: an id that is not UTF-8 would come back
	// changed, and the token would never match its executor.
	for name, v := range map[string]string{"fid": c.FrameworkID, "eid": c.ExecutorID, "cid": c.ContainerID} {
		if !utf8.ValidString(v) {
			return "", fmt.Errorf("issue executor token: claim %q (%q) is not valid UTF-8", name, v)
		}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"fid": c.FrameworkID, "eid": c.ExecutorID, "cid": c.ContainerID,
	})
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("issue executor token: %w", err)
	}
	return s, nil
}

// VerifyExecutorToken checks token's HS256 signature with key and
// returns its claims. A token signed otherwise (another key, another
// algorithm, "none") or without all three claims is ErrInvalidToken.
func VerifyExecutorToken(key []byte, token string) (ExecutorClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}))
	if err != nil {
		return ExecutorClaims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	var c ExecutorClaims
	for name, dst := range map[string]*string{"fid": &c.FrameworkID, "eid": &c.ExecutorID, "cid": &c.ContainerID} {
		v, ok := claims[name].(string)
		if !ok || v == "" {
			return ExecutorClaims{}, fmt.Errorf("%w: claim %q missing", ErrInvalidToken, name)
		}
		*dst = v
	}
	return c, nil
}

// BearerToken returns the token of r's "Authorization: Bearer <token>"
// header, or an explanation of why there is none, for the challenge's
// error_description ("" when the header is absent).
func BearerToken(r *http.Request) (token string, problem string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ""
	}
	parts := strings.Split(h, " ")
	if len(parts) != 2 {
		return "", "Malformed 'Authorization' header"
	}
	if parts[0] != "Bearer" {
		return "", "Scheme '" + parts[0] + "' unsupported"
	}
	return parts[1], ""
}

// BearerChallenge is the WWW-Authenticate challenge of realm for a
// refused token, as Mesos words it: no error for a missing header (RFC
// 6750 §3.1), invalid_token with a description otherwise.
func BearerChallenge(realm, problem string) string {
	if problem == "" {
		return `Bearer realm="` + realm + `"`
	}
	return `Bearer realm="` + realm + `", error="invalid_token", error_description="` + quotedPairs(problem) + `"`
}

// quotedPairs escapes s for an HTTP quoted-string (RFC 9110 §5.6.4): a
// description that repeats a client's header (a scheme "a\"b") must not
// end the string early; control characters become spaces.
func quotedPairs(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
