// Package detector elects the leading Mezzo master and finds it, the way
// Apache Mesos does in ZooKeeper, so that Mesos masters, agents,
// frameworks and tools and Mezzo's can share one ZooKeeper path.
//
// # URLs
//
// ParseURL reads the forms Mesos' --master and --zk flags take:
//
//	zk://host1:2181,host2:2181/mesos        a ZooKeeper ensemble and a path
//	zk://user:pass@host1:2181/mesos         the same with digest authentication
//	file:///etc/mesos/zk                    a file holding one of these URLs
//	host:port (or master@host:port)         one fixed master, no ZooKeeper
//
// # Election
//
// Contend joins the election as Mesos' ZooKeeperMasterContender does: it
// creates an ephemeral, sequential znode <path>/json.info_<sequence>
// holding the master's MasterInfo in the JSON Mesos writes. The member with
// the lowest sequence number leads. A Contender closes Elected() when its
// master leads and reports on Lost() when the candidacy ends: its znode was
// deleted, its session expired, or it has been disconnected long enough
// that the session can no longer be assumed alive. A master must stop
// acting as leader as soon as Lost() reports; Mesos' master aborts then.
// A Contender is used once: after Lost or Close, contend again with a new
// one.
//
// # Detection
//
// Detect follows the election as Mesos' ZooKeeperMasterDetector does: it
// watches the lowest json.info_ (or legacy info_) znode and reports its
// MasterInfo through Leader() and Changes(), reconnecting across server
// failures. For a fixed host:port URL it reports that master and never
// changes.
//
// # Timing
//
// With session timeout T, a contender whose connection goes quiet steps
// down about T after it last heard from ZooKeeper, which is no later than
// ZooKeeper expires its session and lets the next master lead; detectors
// see the new leader about T plus one ZooKeeper tick after the old one
// went silent. A cleanly closed contender is replaced at once.
package detector
