// Command dockertask is the program of the e2e tests' Docker image (FROM
// scratch, built by the tests): each argument pair is one step, run in
// order.
//
//	print TEXT    write TEXT and a newline to stdout
//	eprint TEXT   write TEXT and a newline to stderr
//	env NAME      print NAME=value of an environment variable
//	sleep SECS    sleep
//	exit CODE     exit with CODE
//	serve PORT    answer HTTP GETs on PORT with 200 "ok" (in the background)
//	write PATH    create PATH (exit 4 when that fails)
//	cat PATH      print the contents of PATH (exit 5 when unreadable)
//	until PATH    wait until PATH exists
//
// Installed as /bin/sh too, it takes `sh -c "STEP ARG ..."`: the steps
// split at spaces (the image has no shell of its own).
package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == "sh" && len(args) == 2 && args[0] == "-c" {
		args = strings.Fields(args[1])
	}
	for len(args) >= 2 {
		op, arg := args[0], args[1]
		args = args[2:]
		switch op {
		case "print":
			fmt.Println(arg)
		case "eprint":
			fmt.Fprintln(os.Stderr, arg)
		case "env":
			fmt.Printf("%s=%s\n", arg, os.Getenv(arg))
		case "sleep":
			secs, _ := strconv.ParseFloat(arg, 64)
			time.Sleep(time.Duration(secs * float64(time.Second)))
		case "exit":
			code, _ := strconv.Atoi(arg)
			os.Exit(code)
		case "serve":
			go http.ListenAndServe(":"+arg, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprint(w, "ok")
			}))
		case "write":
			if err := os.WriteFile(arg, []byte("x"), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(4)
			}
		case "cat":
			b, err := os.ReadFile(arg)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(5)
			}
			os.Stdout.Write(b)
		case "until":
			for {
				if _, err := os.Stat(arg); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		default:
			fmt.Fprintf(os.Stderr, "unknown step %q\n", op)
			os.Exit(2)
		}
	}
}
