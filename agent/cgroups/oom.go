package cgroups

import "os"

// OOMEvent is an OOM in a container's cgroup: its memory use reached the
// hard limit and the kernel's OOM killer ended a process inside.
type OOMEvent struct {
	// Kills is the number of processes the OOM killer ended in the
	// cgroup so far (memory.oom_control or memory.events oom_kill). On
	// v1 the kernel notifies before it kills, so it may lag by one.
	Kills uint64
}

// OOMWatch reports a cgroup's OOM events, from a goroutine it owns until
// Close: on v1 an eventfd registered on memory.oom_control, on v2 an
// inotify watch of memory.events (an event there counts only when
// oom_kill grew).
type OOMWatch struct {
	c    chan OOMEvent
	f    *os.File
	done chan struct{}
}

// C delivers the events; when the reader lags, only the latest waits.
func (w *OOMWatch) C() <-chan OOMEvent { return w.c }

// Close stops the watch and waits for its goroutine.
func (w *OOMWatch) Close() error {
	err := w.f.Close()
	<-w.done
	return err
}

// startOOMWatch reads notifications of bufSize bytes from f (non
// blocking, so that Close ends the read) and, for each, the OOM kill
// count; each notification after which the count grew is an event. With
// v1 (eager) every notification is an event, its count at least one
// more than before.
func startOOMWatch(f *os.File, bufSize int, count func() (uint64, error), eager bool) (*OOMWatch, error) {
	base, err := count()
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &OOMWatch{c: make(chan OOMEvent, 1), f: f, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		buf := make([]byte, bufSize)
		for {
			if _, err := f.Read(buf); err != nil {
				return // closed
			}
			n, err := count()
			if err != nil {
				continue // the cgroup is gone: no OOM
			}
			if eager {
				n = max(n, base+1)
			}
			if n <= base {
				continue
			}
			base = n
			select {
			case <-w.c: // replace an unread event by this later one
			default:
			}
			w.c <- OOMEvent{Kills: n}
		}
	}()
	return w, nil
}
