package fetcher

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

// BenchmarkFetch fetches a 100 MiB artifact from a loopback HTTP server
// into a fresh sandbox: directly (no cache), through a cold cache (a new
// cache each time: download into the cache, then copy into the sandbox)
// and through a warm one (copy from the cache only).
func BenchmarkFetch(b *testing.B) {
	const size = 100 << 20
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	srv := newCounting(map[string][]byte{"/artifact.bin": body})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	direct := uri(hs.URL + "/artifact.bin")
	viaCache := cached(hs.URL + "/artifact.bin")
	quiet := slog.New(slog.DiscardHandler)

	fetchOnce := func(b *testing.B, f *Fetcher, u *mesos.CommandInfo_URI) {
		b.StopTimer()
		sb, err := os.MkdirTemp(b.TempDir(), "sandbox-")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := f.Fetch(context.Background(), []*mesos.CommandInfo_URI{u}, sb, "bench"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st, err := os.Stat(filepath.Join(sb, "artifact.bin")); err != nil || st.Size() != size {
			b.Fatalf("sandbox file: %v %v", st, err)
		}
		os.RemoveAll(sb)
		b.StartTimer()
	}
	b.Run("direct", func(b *testing.B) {
		f := newFetcher(b, Config{Log: quiet})
		before := srv.count("/artifact.bin")
		b.SetBytes(size)
		for b.Loop() {
			fetchOnce(b, f, direct)
		}
		if got := srv.count("/artifact.bin") - before; got != b.N {
			b.Fatalf("%d downloads for %d fetches", got, b.N)
		}
	})
	b.Run("cold", func(b *testing.B) {
		before := srv.count("/artifact.bin")
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			dir, err := os.MkdirTemp(b.TempDir(), "cache-")
			if err != nil {
				b.Fatal(err)
			}
			f := newFetcher(b, Config{CacheDir: dir, CacheSize: 1 << 30, Log: quiet})
			b.StartTimer()
			fetchOnce(b, f, viaCache)
			b.StopTimer()
			f.Close()
			os.RemoveAll(dir)
			b.StartTimer()
		}
		if got := srv.count("/artifact.bin") - before; got != b.N {
			b.Fatalf("%d downloads for %d cold fetches", got, b.N)
		}
	})
	b.Run("warm", func(b *testing.B) {
		f := newFetcher(b, Config{CacheDir: b.TempDir(), CacheSize: 1 << 30, Log: quiet})
		fetchOnce(b, f, viaCache)
		before := srv.count("/artifact.bin")
		b.SetBytes(size)
		b.ResetTimer()
		for b.Loop() {
			fetchOnce(b, f, viaCache)
		}
		if got := srv.count("/artifact.bin") - before; got != 0 {
			b.Fatalf("%d downloads from a warm cache", got)
		}
	})
}
