// Command imageprobe is the program of the e2e tests' container image:
// it prints what the container gives it — arguments, working directory,
// user, environment and whether the host's files show — one "key=value"
// line each; with "write <file>" it also writes a file there, and with
// "waitfile <file>" it waits until the file exists before exiting, and
// with "stat <path>" it tells whether path exists.
package main

import (
	"fmt"
	"os"
	"sort"
	"time"
)

func main() {
	wd, _ := os.Getwd()
	fmt.Printf("args=%q\n", os.Args[1:])
	fmt.Printf("cwd=%s\n", wd)
	fmt.Printf("uid=%d gid=%d\n", os.Getuid(), os.Getgid())
	env := os.Environ()
	sort.Strings(env)
	for _, kv := range env {
		fmt.Printf("env %s\n", kv)
	}
	if b, err := os.ReadFile("/image-marker"); err == nil {
		fmt.Printf("marker=%s", b)
	}
	for _, p := range []string{"/etc/hostname", "/proc/1/cmdline", "/mnt/mesos/sandbox", "/dev/null", "/removed"} {
		_, err := os.Stat(p)
		fmt.Printf("exists %s=%v\n", p, err == nil)
	}
	for i := 1; i+1 < len(os.Args); i++ {
		if os.Args[i] == "write" {
			if err := os.WriteFile(os.Args[i+1], []byte("written in the image\n"), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "write:", err)
				os.Exit(3)
			}
			fmt.Printf("wrote %s\n", os.Args[i+1])
		}
		if os.Args[i] == "stat" {
			_, err := os.Stat(os.Args[i+1])
			fmt.Printf("exists %s=%v\n", os.Args[i+1], err == nil)
		}
		if os.Args[i] == "waitfile" {
			for {
				if _, err := os.Stat(os.Args[i+1]); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}
