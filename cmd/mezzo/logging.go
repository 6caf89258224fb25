package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/mezzo-project/mezzo/internal/logging"
)

// logFlags are Mesos' logging flags, which master, agent and local take
// (with --version):
// --logging_level (INFO, WARNING or ERROR; Mezzo also takes DEBUG),
// --log_dir (also write the log to <log_dir>/mezzo-<command>.log; each
// agent of `mezzo local` to <log_dir>/mezzo-local-agent<i>.log; the
// master serves its file as /master/log, an agent as /slave/log) and
// --quiet (do not log to stderr).
type logFlags struct {
	level string
	dir   string
	quiet bool
	// version is Mesos' --version: print the version and exit.
	version bool
}

func (l *logFlags) add(fs *flag.FlagSet) {
	fs.BoolVar(&l.version, "version", false, "Print the version and exit.")
	fs.StringVar(&l.level, "logging_level", "INFO", "Log messages at this level and above: INFO, WARNING or ERROR (or DEBUG).")
	fs.StringVar(&l.dir, "log_dir", "", "Also write the log to <log_dir>/mezzo-<command>.log (appended), served as /master/log or /slave/log on /files.")
	fs.BoolVar(&l.quiet, "quiet", false, "Do not log to stderr.")
}

// open returns the logger these flags ask for, its verbosity (which the
// operator may raise at run time) and a function that closes its file;
// errors name the flag.
func (l *logFlags) open(command string, stderr io.Writer) (*slog.Logger, *logging.Verbosity, func(), error) {
	var level slog.Level
	switch strings.ToUpper(l.level) {
	case "DEBUG":
		level = slog.LevelDebug
	case "INFO":
		level = slog.LevelInfo
	case "WARNING":
		level = slog.LevelWarn
	case "ERROR":
		level = slog.LevelError
	default:
		return nil, nil, nil, fmt.Errorf("--logging_level=%s: want INFO, WARNING or ERROR (or DEBUG)", l.level)
	}
	verbosity := logging.New(level)
	log, closeFile, err := l.openFile("mezzo-"+command+".log", stderr, verbosity)
	if err != nil {
		return nil, nil, nil, err
	}
	return log, verbosity, closeFile, nil
}

// path is where --log_dir puts the log file named file; empty without
// --log_dir. The master and the agent serve their own as /master/log and
// /slave/log.
func (l *logFlags) path(file string) string {
	if l.dir == "" {
		return ""
	}
	if abs, err := filepath.Abs(filepath.Join(l.dir, file)); err == nil {
		return abs
	}
	return filepath.Join(l.dir, file)
}

// openFile returns a logger at verbosity that writes to stderr (unless
// --quiet) and, with --log_dir, to <log_dir>/<file> (appended); and a
// function that closes that file. One process logs to several files this
// way: each agent of `mezzo local` has its own.
func (l *logFlags) openFile(file string, stderr io.Writer, verbosity *logging.Verbosity) (*slog.Logger, func(), error) {
	var outs []io.Writer
	if !l.quiet {
		outs = append(outs, stderr)
	}
	closeFile := func() {}
	if l.dir != "" {
		if err := os.MkdirAll(l.dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("--log_dir: %w", err)
		}
		f, err := os.OpenFile(l.path(file), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--log_dir: %w", err)
		}
		outs = append(outs, f)
		closeFile = func() { f.Close() }
	}
	return slog.New(slog.NewTextHandler(io.MultiWriter(outs...), &slog.HandlerOptions{Level: verbosity.Level()})), closeFile, nil
}
