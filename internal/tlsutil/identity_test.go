package tlsutil_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/internal/tlsutil"
	"github.com/mezzo-project/mezzo/internal/tlsutil/tlstest"
)

// TestCheckNames: a certificate is valid for the DNS names and IP
// addresses it names, wildcards included, and for nothing else; the
// refusal says what it names and what was asked.
func TestCheckNames(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "ca")
	certFile, _, _ := ca.Issue(t, dir, "agent1", "agent1.example.org", "*.rack7.example.org", "10.0.0.5")
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, names := range [][]string{
		{"agent1.example.org"},
		{"other.example.org", "10.0.0.5"},
		{"", "node3.rack7.example.org"},
		{"AGENT1.example.org"},
	} {
		if err := tlsutil.CheckNames(cert, names...); err != nil {
			t.Errorf("%q: %v", names, err)
		}
	}
	for _, names := range [][]string{
		{"agent2.example.org", "10.0.0.6"},
		{"rack7.example.org"},
		{"a.b.rack7.example.org"},
		{""},
		{},
	} {
		err := tlsutil.CheckNames(cert, names...)
		if !errors.Is(err, tlsutil.ErrWrongIdentity) {
			t.Errorf("%q: %v, want ErrWrongIdentity", names, err)
			continue
		}
		for _, want := range append([]string{"DNS:agent1.example.org", "IP:10.0.0.5"}, names...) {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %q does not say %q", names, err, want)
			}
		}
	}
}
