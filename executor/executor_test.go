package executor

import (
	"testing"
	"time"
)

func TestEnvFromOS(t *testing.T) {
	env := map[string]string{
		"MESOS_FRAMEWORK_ID": "F1", "MESOS_EXECUTOR_ID": "E1", "MESOS_SLAVE_PID": "slave(1)@127.0.0.1:5051",
		"MESOS_DIRECTORY": "/sb", "MESOS_CHECKPOINT": "1", "MESOS_RECOVERY_TIMEOUT": "15mins",
		"MESOS_SUBSCRIPTION_BACKOFF_MAX": "2secs", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "1.5secs",
	}
	e, err := EnvFromOS(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if e.Endpoint != "127.0.0.1:5051" || e.Sandbox != "/sb" || !e.Checkpoint || e.RecoveryTimeout != 15*time.Minute ||
		e.SubscriptionBackoffMax != 2*time.Second || e.ShutdownGracePeriod != 1500*time.Millisecond {
		t.Fatalf("%+v", e)
	}
	delete(env, "MESOS_FRAMEWORK_ID")
	if _, err := EnvFromOS(func(k string) string { return env[k] }); err == nil {
		t.Fatal("missing MESOS_FRAMEWORK_ID accepted")
	}
	env["MESOS_FRAMEWORK_ID"] = "F1"
	env["MESOS_RECOVERY_TIMEOUT"] = "15"
	if _, err := EnvFromOS(func(k string) string { return env[k] }); err == nil {
		t.Fatal("bad duration accepted")
	}
}
