package bench

import (
	"os"
	"testing"
	"time"
)

func TestDistOf(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	d := distOf(ds)
	if d.N != 100 || d.P50 != 0.05 || d.P99 != 0.099 || d.Max != 0.1 || d.Mean != 0.0505 {
		t.Fatalf("got %+v", d)
	}
	if (distOf(nil) != Dist{}) {
		t.Fatal("empty samples")
	}
}

func TestProcUsage(t *testing.T) {
	u, err := ProcUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.RSS <= 0 || u.HWM < u.RSS {
		t.Fatalf("usage %+v", u)
	}
	// Burn a little CPU: it must show.
	end := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(end) {
	}
	v, err := ProcUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if v.CPU <= u.CPU {
		t.Fatalf("CPU did not grow: %v then %v", u.CPU, v.CPU)
	}
	if _, err := ProcUsage(1 << 30); err == nil {
		t.Fatal("no error for a missing process")
	}
}

func TestCountsLine(t *testing.T) {
	s, r, ok := parseCounts(countsLine(12, 34))
	if !ok || s != 12 || r != 34 {
		t.Fatalf("%d %d %v", s, r, ok)
	}
	if _, _, ok := parseCounts("silenced x"); ok {
		t.Fatal("parsed a reply as counts")
	}
}

func TestFleetSources(t *testing.T) {
	o := FleetOptions{Count: 30000}
	got := o.sources()
	if len(got) != 3 || got[0] != "127.0.0.2" || got[2] != "127.0.0.4" {
		t.Fatalf("sources %v", got)
	}
	o.SourceAddrs = []string{"127.0.0.9"}
	if s := o.sources(); len(s) != 1 || s[0] != "127.0.0.9" {
		t.Fatalf("given sources %v", s)
	}
}
