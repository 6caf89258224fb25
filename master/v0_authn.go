package master

import (
	"sync"
	"time"

	"github.com/mezzo-project/mezzo/internal/auth"
	"github.com/mezzo-project/mezzo/internal/libprocess"
)

// v0AuthTimeout is how long a driver's CRAM-MD5 exchange may take (Mesos'
// --authentication_v0_timeout default, 15 s).
const v0AuthTimeout = 15 * time.Second

// v0Auth is the master's side of the scheduler driver's authentication,
// as Mesos' master runs it with the crammd5 authenticator:
//
//	authenticatee ── AuthenticateMessage{pid} ──────────────▶ master
//	              ◀─ AuthenticationMechanismsMessage{CRAM-MD5}
//	              ── AuthenticationStartMessage{CRAM-MD5} ──▶
//	              ◀─ AuthenticationStepMessage{challenge}
//	              ── AuthenticationStepMessage{response} ───▶
//	              ◀─ AuthenticationCompletedMessage (or ...Failed)
//
// On completion the driver's pid is authenticated as the principal; its
// registrations must then name that principal in FrameworkInfo. Its
// methods are called from the libprocess receiver's goroutines.
type v0Auth struct {
	e *v0Edge

	mu sync.Mutex
	// sessions are the exchanges in progress, by the authenticatee's pid.
	sessions map[string]*cramSession
	// principals are the authenticated drivers' principals, by pid.
	principals map[string]string
}

// cramSession is one exchange: the pid it authenticates, and the
// challenge once sent.
type cramSession struct {
	pid       string
	challenge string
	started   time.Time
}

func newV0Auth(e *v0Edge) *v0Auth {
	return &v0Auth{e: e, sessions: map[string]*cramSession{}, principals: map[string]string{}}
}

// principal returns the principal pid authenticated as.
func (a *v0Auth) principal(pid string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.principals[pid]
	return p, ok
}

// forget drops what is known of a driver that exited.
func (a *v0Auth) forget(pid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.principals, pid)
	delete(a.sessions, pid)
}

// send sends a message of the exchange to the authenticatee.
func (a *v0Auth) send(to libprocess.UPID, name string, body []byte) {
	_ = a.e.m.do(func(c *core) {
		if s := a.e.senderFor(c.info.GetPid()); s != nil {
			if err := s.Send(to, name, body); err != nil {
				a.e.log.Warn("authentication message dropped", "message", name, "to", to.String(), "err", err)
			}
		}
	})
}

// fail ends an exchange with AuthenticationFailedMessage (bad
// credentials) or, with a reason, AuthenticationErrorMessage.
func (a *v0Auth) fail(from libprocess.UPID, reason string) {
	a.mu.Lock()
	delete(a.sessions, from.String())
	a.mu.Unlock()
	if reason == "" {
		a.e.log.Warn("driver authentication failed: bad credentials", "from", from.String())
		a.send(from, auth.MsgFailed, nil)
		return
	}
	a.e.log.Warn("driver authentication error", "from", from.String(), "err", reason)
	a.send(from, auth.MsgError, auth.EncodeFields(auth.WireField{Num: 1, Data: []byte(reason)}))
}

// authenticate starts an exchange (AuthenticateMessage): a new one
// replaces one in progress from the same authenticatee.
func (a *v0Auth) authenticate(msg libprocess.Message) {
	f, err := auth.DecodeFields(msg.Body)
	if err != nil || len(f[1]) == 0 {
		a.e.log.Warn("dropping an AuthenticateMessage without a pid", "from", msg.From.String())
		return
	}
	if len(a.e.m.authn.frameworkCredentials()) == 0 {
		a.fail(msg.From, "No credentials configured on the master (--credentials): it cannot authenticate frameworks")
		return
	}
	a.mu.Lock()
	a.sessions[msg.From.String()] = &cramSession{pid: string(f[1][0]), started: a.e.m.clock.Now()}
	a.mu.Unlock()
	a.send(msg.From, auth.MsgMechanisms, auth.EncodeFields(auth.WireField{Num: 1, Data: []byte(auth.CRAMMD5)}))
}

// session returns from's exchange if it has not timed out.
func (a *v0Auth) session(from libprocess.UPID) *cramSession {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[from.String()]
	if s != nil && a.e.m.clock.Now().Sub(s.started) > v0AuthTimeout {
		delete(a.sessions, from.String())
		return nil
	}
	return s
}

// start answers AuthenticationStartMessage with the challenge.
func (a *v0Auth) start(msg libprocess.Message) {
	s := a.session(msg.From)
	if s == nil {
		a.fail(msg.From, "No authentication in progress (send AuthenticateMessage first, within 15secs)")
		return
	}
	f, err := auth.DecodeFields(msg.Body)
	if err != nil || len(f[1]) == 0 || string(f[1][0]) != auth.CRAMMD5 {
		a.fail(msg.From, "Unsupported mechanism: only CRAM-MD5 is offered")
		return
	}
	ch, err := auth.NewCRAMMD5Challenge(a.e.m.cfg.Hostname, a.e.m.clock.Now())
	if err != nil {
		a.fail(msg.From, err.Error())
		return
	}
	a.mu.Lock()
	s.challenge = ch
	a.mu.Unlock()
	a.send(msg.From, auth.MsgStep, auth.EncodeFields(auth.WireField{Num: 1, Data: []byte(ch)}))
}

// step checks the client's response and completes the exchange.
func (a *v0Auth) step(msg libprocess.Message) {
	s := a.session(msg.From)
	a.mu.Lock()
	challenge := ""
	if s != nil {
		challenge = s.challenge
	}
	a.mu.Unlock()
	if challenge == "" {
		a.fail(msg.From, "No challenge outstanding (send AuthenticationStartMessage first)")
		return
	}
	f, err := auth.DecodeFields(msg.Body)
	if err != nil || len(f[1]) == 0 {
		a.fail(msg.From, "AuthenticationStepMessage without data")
		return
	}
	principal, ok := auth.VerifyCRAMMD5(a.e.m.authn.frameworkCredentials(), challenge, f[1][0])
	if !ok {
		a.fail(msg.From, "")
		return
	}
	a.mu.Lock()
	delete(a.sessions, msg.From.String())
	a.principals[s.pid] = principal
	a.mu.Unlock()
	a.e.log.Info("driver authenticated", "pid", s.pid, "principal", principal)
	a.send(msg.From, auth.MsgCompleted, nil)
}
