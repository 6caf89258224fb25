// Package libprocess speaks the transport of Mesos' actor library,
// libprocess, as Mesos' scheduler and executor drivers use it: each
// message is one HTTP/1.1 POST of a protobuf to /<process id>/<message
// name>, naming its sender in Libprocess-From (and User-Agent:
// libprocess/<pid>), answered at once with 202 Accepted. A reply is not
// the answer to the POST: it is a POST of its own, over a connection the
// replying side opens to the sender's address.
//
//	peer ──POST /master/mesos.scheduler.Call──▶ Receiver (an http.Handler)
//	     ◀──202 Accepted────────────────────── │ Handle(Message), in order
//	                                           ▼
//	peer ◀──POST /<peer id>/<message name>──── Sender: one persistent
//	     ──202 Accepted──────────────────────▶ connection per address
//
// UPID is a process' address, "id@ip:port". A Receiver serves the
// messages of one process id (it is mounted in an HTTP server beside
// other endpoints); a Sender queues outbound messages per peer address
// and writes them, pipelined, over one connection it keeps open, as
// libprocess does. Send never blocks: each peer's queue is bounded, and
// a peer that cannot be reached, whose connection breaks or whose queue
// overflows is reported exited (libprocess' ExitedEvent) through
// Config.OnExited, so its owner can treat it as gone. A Sender dials one
// address at most once per Config.RedialInterval, so a forged sender
// address cannot make it connect to a host over and over.
package libprocess
