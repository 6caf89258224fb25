package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/mezzo-project/mezzo/internal/tlsutil"
)

// loadTLS reads the process' TLS settings, the --ssl_* flags given over
// the LIBPROCESS_SSL_* variables: nil when TLS is off, an error naming
// each bad flag or variable or unreadable file.
func loadTLS(log *slog.Logger, flags *tlsutil.Flags) (*tlsutil.Setup, error) {
	s, err := flags.Setup(os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	if s != nil {
		c := s.Config()
		log.Info("TLS enabled", "cert", c.CertFile, "ca_file", c.CAFile, "ca_dir", c.CADir,
			"verify_cert", c.VerifyServerCert, "require_cert", c.RequireClientCert, "support_downgrade", c.SupportDowngrade)
	}
	return s.WithLogger(log), nil
}
