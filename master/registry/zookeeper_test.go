package registry

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/detector"
	"github.com/mezzo-project/mezzo/internal/zktest"
)

// zkStore opens a ZooKeeper store under a fresh path of a one-server
// ensemble, fenced by an ephemeral node of its connection; reopen reads
// it again through a new store on the same connection.
func zkStore(t *testing.T) (*zk.Conn, Store, func() Store) {
	t.Helper()
	ens := zktest.Start(t, 1)
	conn := zkConnect(t, ens)
	fence := zkFence(t, conn, "/mesos-test", "json.info_")
	open := func() Store {
		s, err := OpenZooKeeper(conn, "/mesos-test", fence, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recover(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	return conn, open(), open
}

func zkConnect(t *testing.T, ens *zktest.Ensemble) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(ens.Servers(), 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// zkFence creates an ephemeral sequential node under dir, as a master's
// election node, and returns its path.
func zkFence(t *testing.T, conn *zk.Conn, dir, prefix string) string {
	t.Helper()
	if err := detector.EnsurePath(conn, dir, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	p, err := conn.Create(dir+"/"+prefix, []byte("{}"), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A master whose election node is gone (its session lost, another
// master may lead) cannot write, and nothing of its batch is written.
func TestZooKeeperWritesAreFenced(t *testing.T) {
	conn, s, reopen := zkStore(t)
	if err := s.Apply(AdmitAgent{Info: agentInfo("a1")}); err != nil {
		t.Fatal(err)
	}
	z := s.(*ZooKeeper)
	if err := conn.Delete(z.fence, -1); err != nil {
		t.Fatal(err)
	}
	err := s.Apply(AdmitAgent{Info: agentInfo("a2")}, AddFramework{Info: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Id: &mesos.FrameworkID{Value: proto.String("f1")}}})
	if !errors.Is(err, ErrDeposed) {
		t.Fatalf("write after deposition: %v, want ErrDeposed", err)
	}
	st, err := reopen().Recover()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Agents) != 1 || st.Agents["a1"] == nil || len(st.Frameworks) != 0 {
		t.Fatalf("after the refused batch: agents %v, frameworks %v", st.Agents, st.Frameworks)
	}
}

// A master elected later sees every write the previous one made, over
// another connection (session), and role keys with "/" survive.
func TestZooKeeperNextLeaderSeesWrites(t *testing.T) {
	ens := zktest.Start(t, 1)
	c1 := zkConnect(t, ens)
	s1, err := OpenZooKeeper(c1, "/mesos", zkFence(t, c1, "/mesos", "json.info_"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Recover(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Apply(AdmitAgent{Info: agentInfo("a1")}, SetWeight{Role: "eng/ads", Weight: 2.5}); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	c2 := zkConnect(t, ens)
	s2, err := OpenZooKeeper(c2, "/mesos", zkFence(t, c2, "/mesos", "json.info_"), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s2.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if st.Agents["a1"] == nil || st.Weights["eng/ads"] != 2.5 {
		t.Fatalf("the next leader sees agents %v, weights %v", st.Agents, st.Weights)
	}
}
