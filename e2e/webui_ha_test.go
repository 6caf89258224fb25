package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebUIFollowsTheLeader: a page open on the leading master of three
// moves to the new leader once the old one, killed, comes back as a
// standby (as its supervisor restarts it), and shows the cluster there.
func TestWebUIFollowsTheLeader(t *testing.T) {
	c := startHACluster(t, 1, false)
	first := c.leader(t)
	ctx := browser(t, 1280, 900)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+c.addrs[first]+"/#/agents")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, 20*time.Second, `#conn`, "the page live", equals("live"))

	if err := syscall.Kill(c.masters[first].cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.masters[first].done
	next := c.waitLeader(t, first)
	c.restart(t, first)
	nextPort := c.addrs[next][strings.LastIndex(c.addrs[next], ":")+1:]
	waitFor(t, 60*time.Second, "the page on the new leader", func() error {
		loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.port + " " + location.hash`))
		if err != nil {
			return err
		}
		if loc != nextPort+" #/agents" {
			return fmt.Errorf("the page is at %q", loc)
		}
		return nil
	})
	waitText(t, ctx, 30*time.Second, `#conn`, "the page live on the new leader", equals("live"))
}
