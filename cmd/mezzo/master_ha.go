package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
	"github.com/mezzo-project/mezzo/master"
	"github.com/mezzo-project/mezzo/master/registry"
)

// runElectedMaster runs a master of several (--zk), as Mesos' does: it
// serves as a standby (redirecting to the leader it detects) while it
// contends for leadership; once elected, and once --quorum masters take
// part, it recovers from the registry in ZooKeeper and leads. Losing its
// leadership (its ZooKeeper session) ends it at once with an error —
// another master may lead already, so it must neither offer nor write —
// and its supervisor starts it again as a standby, as Mesos' master
// exits when it loses leadership.
func runElectedMaster(ctx context.Context, cfg master.Config, ln net.Listener, log *slog.Logger) error {
	u, err := detector.ParseURL(cfg.ZK)
	if err != nil {
		return fmt.Errorf("--zk: %w", err)
	}
	if !u.IsZooKeeper() {
		return fmt.Errorf("--zk=%s: not a ZooKeeper URL (zk://host:port/path)", cfg.ZK)
	}
	info, err := master.NewMasterInfo(cfg)
	if err != nil {
		return err
	}
	if info.GetPort() == 0 {
		// --port=0: advertise the port the listener got.
		port := ln.Addr().(*net.TCPAddr).Port
		info.Port = proto.Uint32(uint32(port))
		info.Address.Port = proto.Int32(int32(port))
		info.Pid = proto.String("master@" + info.GetAddress().GetIp() + ":" + strconv.Itoa(port))
	}
	log = log.With("master_id", info.GetId())
	timeout := cfg.ZKSessionTimeout
	check := cfg
	check.Info, check.Store = info, registry.NewMemory()
	if err := check.Validate(); err != nil {
		return err
	}

	det, err := detector.Detect(ctx, u, timeout, detector.WithLogger(log))
	if err != nil {
		return fmt.Errorf("detect the leading master in %s: %w", u, err)
	}
	defer det.Close()
	cfg.Leadership = det

	var current atomic.Pointer[http.Handler]
	standby := master.NewStandby(info, det, cfg, log).Handler()
	current.Store(&standby)
	srv := tlsutil.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*current.Load()).ServeHTTP(w, r)
	}), tlsutil.ServerOptions{Log: log})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(cfg.TLS.Listen(tlsutil.LimitListener(ln, cfg.MaxConnections))) }()
	defer srv.Close()

	cont, err := detector.Contend(ctx, u, timeout, info, detector.WithLogger(log))
	if err != nil {
		return fmt.Errorf("contend for leadership in %s: %w", u, err)
	}
	defer cont.Close()
	log.Info("contending for leadership", "zk", u.String(), "node", cont.Fence().Path)
	select {
	case <-ctx.Done():
		return nil
	case err := <-served:
		return err
	case err := <-cont.Lost():
		exitLost(log, "lost the candidacy", err)
	case <-cont.Elected():
	}
	log.Info("elected leading master", "node", cont.Fence().Path)
	// Agents that find this master while it recovers wait for it rather
	// than back off (see holdAgents); everything else is the standby's.
	ready := make(chan struct{})
	recovering := holdAgents(standby, &current, ready)
	current.Store(&recovering)

	conn, err := detector.Dial(ctx, u, timeout, detector.WithLogger(log))
	if err != nil {
		return fmt.Errorf("connect to ZooKeeper for the registry: %w", err)
	}
	defer conn.Close()
	if err := waitQuorum(ctx, conn, u.Path, cfg.Quorum, cont.Lost(), log); err != nil {
		return err
	}
	store, err := registry.OpenZooKeeper(conn, u.Path, cont.Fence().Path, detector.ACL(u))
	if err != nil {
		return err
	}
	cfg.Info, cfg.Store = info, store
	m, err := master.New(cfg, log)
	if err != nil {
		return err
	}
	leading := m.Handler()
	current.Store(&leading)
	close(ready)
	select {
	case <-ctx.Done():
		return m.Close()
	case err := <-served:
		m.Close()
		return err
	case err := <-cont.Lost():
		exitLost(log, "lost leadership", err)
	}
	return nil
}

// agentHold bounds how long an agent's registration waits for the
// elected master to finish its recovery.
const agentHold = 15 * time.Second

// holdAgents serves an elected master that has not finished recovering:
// agents' calls (POST /master/api/v1/agent, Mezzo's own protocol) wait
// until ready is closed and are then served by the master current holds;
// other requests, and agents' once agentHold has passed, get the
// standby's answer (503 "Master has not finished recovery", as Mesos
// answers frameworks). Without it every agent of a large cluster would
// meet that 503 at once and back off, re-registering seconds later than
// the master could take it.
func holdAgents(standby http.Handler, current *atomic.Pointer[http.Handler], ready <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimRight(r.URL.Path, "/") {
		case "/master/api/v1/agent", "/api/v1/agent":
			t := time.NewTimer(agentHold)
			defer t.Stop()
			select {
			case <-ready:
				(*current.Load()).ServeHTTP(w, r)
				return
			case <-r.Context().Done():
				return
			case <-t.C:
			}
		}
		standby.ServeHTTP(w, r)
	})
}

// exitLost ends the process at once, as Mesos' master does when it
// loses its candidacy or its leadership: another master may lead
// already, so nothing more may be offered, written or answered — not
// even the clean-up of connections that may hang on a lost network. Its
// supervisor starts it again, as a standby.
func exitLost(log *slog.Logger, what string, err error) {
	log.Error(what+"; exiting so that this master comes back as a standby", "err", err)
	os.Exit(1)
}

// waitQuorum waits until at least quorum masters take part in the
// election under dir (their json.info_ znodes), as Mesos' replicated log
// needs a quorum of replicas before the leader recovers.
func waitQuorum(ctx context.Context, conn *zk.Conn, dir string, quorum int, lost <-chan error, log *slog.Logger) error {
	logged := false
	for {
		n, ch, err := detector.Candidates(conn, dir)
		if err != nil {
			return fmt.Errorf("list the masters under %s: %w", dir, err)
		}
		if n >= quorum {
			return nil
		}
		if !logged {
			log.Info("waiting for a quorum of masters", "masters", n, "quorum", quorum)
			logged = true
		}
		select {
		case <-ch:
		case err := <-lost:
			exitLost(log, "lost leadership while waiting for a quorum", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
