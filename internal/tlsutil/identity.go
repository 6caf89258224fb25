package tlsutil

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ErrWrongIdentity is wrapped by CheckNames' error: a verified
// certificate that names none of the identities a peer claims.
var ErrWrongIdentity = errors.New("the certificate does not name the peer")

// PeerCertificate returns the leaf of the chain the CAs verified for r's
// client certificate; nil when r has none (plain HTTP, no certificate,
// or one not verified).
func PeerCertificate(r *http.Request) *x509.Certificate {
	if !PeerVerified(r) || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0][0]
}

// CheckNames returns nil when cert is valid for one of names, each a DNS
// name or an IP address matched as a TLS client matches the host it
// dials (DNS SANs, with wildcards, for a name; IP SANs for an address);
// empty and repeated names are skipped. Otherwise it returns ErrWrongIdentity with
// the certificate's names and the names asked.
func CheckNames(cert *x509.Certificate, names ...string) error {
	var asked []string
	for _, n := range names {
		if n == "" || slices.Contains(asked, n) {
			continue
		}
		if cert.VerifyHostname(n) == nil {
			return nil
		}
		asked = append(asked, n)
	}
	var has []string
	for _, d := range cert.DNSNames {
		has = append(has, "DNS:"+d)
	}
	for _, ip := range cert.IPAddresses {
		has = append(has, "IP:"+ip.String())
	}
	if len(has) == 0 {
		has = append(has, "no DNS or IP subject alternative name")
	}
	return fmt.Errorf("%w: certificate %q (%s) names none of %s", ErrWrongIdentity,
		cert.Subject.String(), strings.Join(has, ", "), strings.Join(asked, ", "))
}
