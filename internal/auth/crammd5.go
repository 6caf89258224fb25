package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// CRAM-MD5 (RFC 2195) is the SASL mechanism Mesos' scheduler driver
// authenticates with (--authenticators=crammd5): the server sends a
// challenge, the client answers "<principal> <hex HMAC-MD5(secret,
// challenge)>".

// CRAMMD5 is the mechanism's SASL name.
const CRAMMD5 = "CRAM-MD5"

// The driver protocol's authentication messages (Mesos'
// authentication.proto and messages.proto), in the order of an exchange.
const (
	// MsgAuthenticate (client → master): pid (1) to authenticate.
	MsgAuthenticate = "mesos.internal.AuthenticateMessage"
	// MsgMechanisms (master → client): the mechanisms (1, repeated).
	MsgMechanisms = "mesos.internal.AuthenticationMechanismsMessage"
	// MsgStart (client → master): mechanism (1), data (2).
	MsgStart = "mesos.internal.AuthenticationStartMessage"
	// MsgStep (both ways): data (1): the challenge, then the response.
	MsgStep = "mesos.internal.AuthenticationStepMessage"
	// MsgCompleted (master → client): authenticated.
	MsgCompleted = "mesos.internal.AuthenticationCompletedMessage"
	// MsgFailed (master → client): bad credentials.
	MsgFailed = "mesos.internal.AuthenticationFailedMessage"
	// MsgError (master → client): error (1), the exchange went wrong.
	MsgError = "mesos.internal.AuthenticationErrorMessage"
)

// NewCRAMMD5Challenge returns a fresh challenge in RFC 2195's form,
// "<random.timestamp@host>".
func NewCRAMMD5Challenge(host string, now time.Time) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("CRAM-MD5 challenge: %w", err)
	}
	return fmt.Sprintf("<%s.%d@%s>", hex.EncodeToString(b), now.Unix(), host), nil
}

// CRAMMD5Response is the client's answer to challenge.
func CRAMMD5Response(principal, secret, challenge string) []byte {
	return []byte(principal + " " + cramDigest(secret, challenge))
}

// VerifyCRAMMD5 checks a client's response to challenge against cs and
// returns the principal it proves.
func VerifyCRAMMD5(cs Credentials, challenge string, response []byte) (string, bool) {
	// The principal is everything before the last space, as Cyrus
	// SASL's CRAM-MD5 server reads it: a principal may hold spaces.
	i := strings.LastIndexByte(string(response), ' ')
	if i <= 0 {
		return "", false
	}
	principal, digest := string(response[:i]), string(response[i+1:])
	secret, known := cs[principal]
	want := cramDigest(secret, challenge)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(digest))) || !known {
		return "", false
	}
	return principal, true
}

func cramDigest(secret, challenge string) string {
	h := hmac.New(md5.New, []byte(secret))
	h.Write([]byte(challenge))
	return hex.EncodeToString(h.Sum(nil))
}

// WireField is one length-delimited field (string or bytes) of a driver
// message: the authentication messages have no other kind.
type WireField struct {
	Num  protowire.Number
	Data []byte
}

// EncodeFields serializes fields as a protobuf message.
func EncodeFields(fields ...WireField) []byte {
	var b []byte
	for _, f := range fields {
		b = protowire.AppendTag(b, f.Num, protowire.BytesType)
		b = protowire.AppendBytes(b, f.Data)
	}
	return b
}

// DecodeFields parses a protobuf message's length-delimited fields by
// number; fields of other wire types are skipped.
func DecodeFields(b []byte) (map[protowire.Number][][]byte, error) {
	out := map[protowire.Number][][]byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("bad field tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, fmt.Errorf("bad field %d: %w", num, protowire.ParseError(m))
			}
			out[num] = append(out[num], v)
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, fmt.Errorf("bad field %d: %w", num, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return out, nil
}
