package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// TestAuthnWebUI opens the web UI of a master whose endpoints need HTTP
// Basic: the browser asks for credentials once (answered here as a user
// answers its prompt) and the UI's own requests carry them.
func TestAuthnWebUI(t *testing.T) {
	work := t.TempDir()
	killLeftoverExecutors(t, work)
	creds := filepath.Join(work, "credentials")
	if err := os.WriteFile(creds, []byte("alice "+alicePW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	master := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "master", "master", "--ip=127.0.0.1", "--port="+strings.Split(master, ":")[1],
		"--work_dir="+filepath.Join(work, "master"), "--allocation_interval=100ms",
		"--authenticate_http_readonly", "--authenticate_http_readwrite", "--credentials="+creds)
	waitFor(t, 20*time.Second, "master health", func() error { return httpOK("http://" + master + "/health") })
	start(t, "agent", "agent", "--master="+master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)),
		"--work_dir="+filepath.Join(work, "agent"), "--resources=cpus:1;mem:512;disk:512")

	ctx := browser(t, 1280, 900)
	// The browser's authentication prompts, answered with alice's
	// credentials; every other paused request goes on unchanged.
	var prompts atomic.Int32
	type paused struct {
		auth bool
		id   fetch.RequestID
	}
	events := make(chan paused, 256)
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *fetch.EventAuthRequired:
			events <- paused{auth: true, id: e.RequestID}
		case *fetch.EventRequestPaused:
			events <- paused{id: e.RequestID}
		}
	}); err != nil {
		t.Fatal(err)
	}
	answerCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for {
			select {
			case <-answerCtx.Done():
				return
			case p := <-events:
				if p.auth {
					prompts.Add(1)
					_, _ = chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: p.id,
						AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials,
							Username: "alice", Password: alicePW}})
				} else {
					_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: p.id})
				}
			}
		}
	}()
	yes := true
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+master+"/")); err != nil {
		t.Fatal(err)
	}
	// The overview's figures come from the operator API (/api/v1,
	// read-write realm) and its event stream.
	waitText(t, ctx, 30*time.Second, `[data-stat="agents-active"] b`, "one active agent on the overview", equals("1"))
	if n := prompts.Load(); n < 1 || n > 2 {
		t.Fatalf("the browser asked for credentials %d times, want once (the page) and its requests to reuse them", n)
	}
}
