package containerizer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/agent/containerizer"
	"github.com/mezzo-project/mezzo/agent/containerizer/fake"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func cid(s string) *mesos.ContainerID { return &mesos.ContainerID{Value: proto.String(s)} }

// methods lists the recorded calls of a fake as "Method id".
func methods(f *fake.Containerizer) []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.Method+" "+c.ID)
	}
	return out
}

// A launch the first containerizer refuses goes to the next; every later
// call for the container goes to the one that launched it, and none to
// the other.
func TestComposingRoutesToTheOwner(t *testing.T) {
	first := &fake.Containerizer{Name: "first", Accept: func(cfg containerizer.Config) bool { return cfg.Builtin != nil }}
	second := &fake.Containerizer{Name: "second", Statistics: &mesos.ResourceStatistics{MemRssBytes: proto.Uint64(42)}}
	c := containerizer.NewComposing(first, second)
	ctx := context.Background()

	res, err := c.Launch(ctx, cid("plain"), containerizer.Config{})
	if err != nil || res != containerizer.Launched {
		t.Fatalf("launch plain: %v, %v", res, err)
	}
	res, err = c.Launch(ctx, cid("builtin"), containerizer.Config{Builtin: &containerizer.BuiltinExecutor{}})
	if err != nil || res != containerizer.Launched {
		t.Fatalf("launch builtin: %v, %v", res, err)
	}
	if res, _ := c.Launch(ctx, cid("plain"), containerizer.Config{}); res != containerizer.AlreadyLaunched {
		t.Errorf("second launch of plain: %v", res)
	}
	if !slices.Equal(methods(first), []string{"Launch plain", "Launch builtin"}) {
		t.Errorf("first: %v", methods(first))
	}
	if !slices.Equal(methods(second), []string{"Launch plain"}) {
		t.Errorf("second: %v", methods(second))
	}

	s, err := c.Usage(ctx, cid("plain"))
	if err != nil || s.GetMemRssBytes() != 42 {
		t.Fatalf("usage plain: %v, %v", s, err)
	}
	if _, err := c.Status(ctx, cid("builtin")); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(ctx, cid("plain"), []*mesos.Resource{{Name: proto.String("cpus")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(ctx, cid("plain")); err != nil {
		t.Fatal(err)
	}
	term, err := c.Wait(ctx, cid("plain"))
	if err != nil || term.Status == nil || syscall.WaitStatus(*term.Status).Signal() != syscall.SIGKILL {
		t.Fatalf("wait plain: %+v, %v", term, err)
	}
	if err := first.Exit("builtin", syscall.WaitStatus(3<<8)); err != nil {
		t.Fatal(err)
	}
	term, err = c.Wait(ctx, cid("builtin"))
	if err != nil || term.Describe() != "exited with status 3" {
		t.Fatalf("wait builtin: %+v (%s), %v", term, term.Describe(), err)
	}
	wantFirst := []string{"Launch plain", "Launch builtin", "Status builtin", "Wait builtin"}
	if !slices.Equal(methods(first), wantFirst) {
		t.Errorf("first: %v, want %v", methods(first), wantFirst)
	}
	wantSecond := []string{"Launch plain", "Usage plain", "Update plain", "Destroy plain", "Wait plain"}
	if !slices.Equal(methods(second), wantSecond) {
		t.Errorf("second: %v, want %v", methods(second), wantSecond)
	}

	// Once its end was reported, a container is unknown.
	for _, id := range []string{"plain", "builtin"} {
		if _, err := c.Wait(ctx, cid(id)); !errors.Is(err, containerizer.ErrUnknownContainer) {
			t.Errorf("wait %s after its end: %v", id, err)
		}
		if err := c.Destroy(ctx, cid(id)); !errors.Is(err, containerizer.ErrUnknownContainer) {
			t.Errorf("destroy %s after its end: %v", id, err)
		}
	}
	// The id can be launched again.
	if res, err := c.Launch(ctx, cid("plain"), containerizer.Config{}); err != nil || res != containerizer.Launched {
		t.Errorf("relaunch: %v, %v", res, err)
	}
}

// When no containerizer supports a container, the composition does not
// either, and the id stays free.
func TestComposingNotSupported(t *testing.T) {
	no := func(containerizer.Config) bool { return false }
	a, b := &fake.Containerizer{Name: "a", Accept: no}, &fake.Containerizer{Name: "b", Accept: no}
	c := containerizer.NewComposing(a, b)
	res, err := c.Launch(context.Background(), cid("x"), containerizer.Config{})
	if err != nil || res != containerizer.NotSupported {
		t.Fatalf("%v, %v", res, err)
	}
	if len(a.Calls()) != 1 || len(b.Calls()) != 1 {
		t.Fatalf("calls %v %v", a.Calls(), b.Calls())
	}
	if _, err := c.Status(context.Background(), cid("x")); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Fatalf("status: %v", err)
	}
}

// Recover recovers every containerizer and learns who re-adopted what.
func TestComposingRecover(t *testing.T) {
	a := &fake.Containerizer{Name: "a", Alive: map[string]bool{"r1": true}}
	b := &fake.Containerizer{Name: "b", Alive: map[string]bool{"r2": true}}
	c := containerizer.NewComposing(a, b)
	known := []containerizer.RecoverState{{ID: cid("r1"), Pid: 10}, {ID: cid("r2"), Pid: 11}, {ID: cid("gone"), Pid: 12}}
	if err := c.Recover(context.Background(), known); err != nil {
		t.Fatal(err)
	}
	ids, err := c.Containers(context.Background())
	if err != nil || len(ids) != 2 {
		t.Fatalf("containers %v, %v", ids, err)
	}
	if _, err := c.Wait(context.Background(), cid("gone")); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("wait on a container nobody recovered: %v", err)
	}
	b.Exit("r2", 0)
	if _, err := c.Wait(context.Background(), cid("r2")); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(context.Background(), cid("r1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Wait(ctx, cid("r1")); err != nil {
		t.Fatal(err)
	}
	if got := methods(a); !slices.Equal(got, []string{"Recover ", "Destroy r1", "Wait r1"}) {
		t.Errorf("a: %v", got)
	}
	if got := methods(b); !slices.Equal(got, []string{"Recover ", "Wait r2"}) {
		t.Errorf("b: %v", got)
	}
}

func TestParseContainerizers(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"mesos", []string{"mesos"}, ""},
		{"mezzo", []string{"mesos"}, ""},
		{"mesos, mezzo", []string{"mesos"}, ""},
		{"docker", []string{"docker"}, ""},
		{"docker,mesos,docker", []string{"docker", "mesos"}, ""},
		{"lxc", nil, `unknown containerizer "lxc"`},
	} {
		got, err := containerizer.ParseContainerizers(tc.in)
		switch {
		case tc.wantErr == "" && (err != nil || !slices.Equal(got, tc.want)):
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: %v, want an error with %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestParseIsolation(t *testing.T) {
	iso, err := containerizer.ParseIsolation("posix/mem, filesystem/posix,posix/disk")
	if err != nil {
		t.Fatal(err)
	}
	isolators, err := iso.Build(containerizer.IsolatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range isolators {
		names = append(names, i.Name())
	}
	// filesystem/posix is always first.
	if !slices.Equal(names, []string{"filesystem/posix", "posix/mem", "posix/disk"}) {
		t.Errorf("isolators %v", names)
	}
	for in, want := range map[string]string{
		"posix/cpu,cgroups/nope": `the "cgroups/nope" isolator is not supported`,
		"posix/cpu,posix/cpu":    "duplicate",
		"disk/du,posix/disk":     "disk/du and posix/disk cannot be used together",
	} {
		if _, err := containerizer.ParseIsolation(in); err == nil || !contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
