package main

import (
	"io"

	"github.com/mezzo-project/mezzo/executor"
)

func init() {
	register(command{
		name:    "executor",
		summary: "the built-in command executor (--default: the task-group executor); started by agents",
		run: func(args []string, stdout, stderr io.Writer) int {
			return executor.Main(args, stdout, stderr)
		},
	})
}
