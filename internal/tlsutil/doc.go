// Package tlsutil sets up the TLS of Mezzo's listeners and clients from
// the environment variables Mesos' libprocess reads (LIBPROCESS_SSL_*,
// docs/ssl.md in Mesos), and the bounds every listener applies to
// slow or hostile clients.
//
// A Setup is built once per process from the environment (FromEnv, or
// Default for clients) or from a Config. A nil *Setup means TLS is off:
// every method then answers as plain HTTP does, so callers need no
// branches.
//
//	LIBPROCESS_SSL_*  ──FromEnv──▶ Setup ──Listen(ln)──▶ TLS (or, with
//	                                 │                   SUPPORT_DOWNGRADE,
//	                                 │                   TLS or plain by the
//	                                 │                   first byte) listener
//	                                 ├──Transport()────▶ https client
//	                                 └──DialTLS────────▶ raw TLS client
//	                                                     (libprocess sender)
//
// The certificate, key and CA files are read again when they change: a
// handshake stats them (size and modification time) and reloads what
// changed, so new connections see replaced certificates without a
// restart. A file caught half-written keeps the previous material until
// the next handshake finds a consistent pair.
//
// Beyond Mesos, when a CA is configured the servers ask every client for
// a certificate and verify the ones presented (a certificate the CA did
// not sign fails the handshake), and clients present theirs: masters and
// agents authenticate each other with TLS (see RequireVerifiedClient),
// while schedulers and operators without certificates still connect
// unless LIBPROCESS_SSL_REQUIRE_CERT.
//
// NewServer and LimitListener give every listener the same bounds:
// header, body and idle timeouts that leave long event streams alone, and
// a cap on open connections.
package tlsutil
