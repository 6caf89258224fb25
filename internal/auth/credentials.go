package auth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// Credential is one principal and its secret, as Mesos' Credential
// message: what an agent presents to the master (--credential) and one
// entry of the master's --credentials.
type Credential struct {
	Principal string `json:"principal"`
	Secret    string `json:"secret"`
}

// Credentials maps principals to their secrets: the identities an
// authenticator accepts.
type Credentials map[string]string

// Check reports whether principal is known and secret is its secret. It
// compares in constant time so the answer's timing does not tell how
// much of a secret was right.
func (cs Credentials) Check(principal, secret string) bool {
	want, known := cs[principal]
	// An unknown principal is compared too (with an empty secret, which
	// no entry has), so it costs the same time as a known one.
	return constantTimeEqual(want, secret) && known
}

// ReadCredentials reads a credentials file (Mesos' --credentials and
// --http_credentials): either JSON, {"credentials": [{"principal": "p",
// "secret": "s"}, ...]}, or Mesos' older text format, one "principal
// secret" pair per line (blank lines and lines starting with '#' are
// skipped). An empty file, a file without credentials, an entry without a
// principal or secret, one that is not UTF-8 and a principal given twice
// are errors naming the file.
func ReadCredentials(path string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read credentials file %s: %w", path, err)
	}
	list, err := parseCredentials(b)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	cs := make(Credentials, len(list))
	for i, c := range list {
		if c.Principal == "" {
			return nil, fmt.Errorf("credentials file %s: entry %d has no principal", path, i+1)
		}
		if c.Secret == "" {
			return nil, fmt.Errorf("credentials file %s: principal %q has no secret", path, c.Principal)
		}
		if err := checkUTF8(c); err != nil {
			return nil, fmt.Errorf("credentials file %s: entry %d: %w", path, i+1, err)
		}
		if _, dup := cs[c.Principal]; dup {
			return nil, fmt.Errorf("credentials file %s: principal %q is given twice", path, c.Principal)
		}
		cs[c.Principal] = c.Secret
	}
	return cs, nil
}

// ReadCredential reads a file holding one credential (the agent's
// --credential): JSON {"principal": "p", "secret": "s"}, or the text
// "principal secret" on one line.
func ReadCredential(path string) (Credential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Credential{}, fmt.Errorf("read credential file %s: %w", path, err)
	}
	trimmed := bytes.TrimSpace(b)
	var c Credential
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return Credential{}, fmt.Errorf("credential file %s: invalid JSON: %w", path, err)
		}
	} else {
		list, err := parseText(trimmed)
		if err != nil {
			return Credential{}, fmt.Errorf("credential file %s: %w", path, err)
		}
		if len(list) != 1 {
			return Credential{}, fmt.Errorf("credential file %s: want one \"principal secret\" line, found %d", path, len(list))
		}
		c = list[0]
	}
	if c.Principal == "" || c.Secret == "" {
		return Credential{}, fmt.Errorf("credential file %s: both principal and secret are required", path)
	}
	if err := checkUTF8(c); err != nil {
		return Credential{}, fmt.Errorf("credential file %s: %w", path, err)
	}
	return c, nil
}

// checkUTF8 refuses a principal or secret that is not UTF-8 text (the
// text format passes any bytes): a principal names a framework's
// FrameworkInfo.principal and goes into JSON documents, which cannot
// carry it.
func checkUTF8(c Credential) error {
	if !utf8.ValidString(c.Principal) {
		return fmt.Errorf("principal %q is not valid UTF-8", c.Principal)
	}
	if !utf8.ValidString(c.Secret) {
		return fmt.Errorf("the secret of principal %q is not valid UTF-8", c.Principal)
	}
	return nil
}

// parseCredentials reads either format of a credentials file.
func parseCredentials(b []byte) ([]Credential, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return nil, errors.New("the file is empty")
	}
	var list []Credential
	if trimmed[0] == '{' {
		var doc struct {
			Credentials []Credential `json:"credentials"`
		}
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		list = doc.Credentials
	} else {
		var err error
		if list, err = parseText(trimmed); err != nil {
			return nil, err
		}
	}
	if len(list) == 0 {
		return nil, errors.New("no credentials in the file")
	}
	return list, nil
}

// parseText reads the text format: "principal secret" per line.
func parseText(b []byte) ([]Credential, error) {
	var list []Credential
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"principal secret\" (two words), found %d words", n, len(fields))
		}
		list = append(list, Credential{Principal: fields[0], Secret: fields[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return list, nil
}
