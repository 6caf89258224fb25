package launcher

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func TestAdopt(t *testing.T) {
	p, err := Start(Spec{Command: &mesos.CommandInfo{Value: proto.String("sleep 30")}, Dir: t.TempDir(), NewSession: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Destroy()
	a, err := Adopt(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Adopt(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	b.Release() // stops watching; the process lives on
	select {
	case <-a.Done():
		t.Fatal("adopted process reported done while running")
	case <-time.After(50 * time.Millisecond):
	}
	a.Destroy()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("exit of an adopted process not noticed")
	}
	<-p.Done()
	if !a.Adopted() || a.Status() != 0 {
		t.Errorf("adopted %v status %v", a.Adopted(), a.Status())
	}
	if _, err := Adopt(p.Pid()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Adopt of a dead pid: %v", err)
	}
}

// Only session leaders are adopted: an executor's pid recycled by an
// ordinary process is not mistaken for it.
func TestAdoptNeedsSessionLeader(t *testing.T) {
	p, err := Start(Spec{Command: &mesos.CommandInfo{Value: proto.String("sleep 30")}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if _, err := Adopt(p.Pid()); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Adopt of a process group leader: %v", err)
	}
}
