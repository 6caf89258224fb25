package detector

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	dir := t.TempDir()
	zkFile := filepath.Join(dir, "zk")
	os.WriteFile(zkFile, []byte("  zk://10.0.0.1:2181,10.0.0.2:2181/mesos\n"), 0o644)
	loopFile := filepath.Join(dir, "loop")
	os.WriteFile(loopFile, []byte("file://"+loopFile), 0o644)
	badFile := filepath.Join(dir, "bad")
	os.WriteFile(badFile, []byte("zk://h:2181/"), 0o644)

	good := []struct {
		in   string
		want URL
	}{
		{"zk://host1:2181,host2:2181/mesos", URL{Servers: []string{"host1:2181", "host2:2181"}, Path: "/mesos"}},
		{"zk://127.0.0.1:2181/a/b/", URL{Servers: []string{"127.0.0.1:2181"}, Path: "/a/b"}},
		{"zk://zk.example.com/mesos", URL{Servers: []string{"zk.example.com:2181"}, Path: "/mesos"}},
		{"zk://[::1]:2182/mesos", URL{Servers: []string{"[::1]:2182"}, Path: "/mesos"}},
		{"zk://jane:s3cr:t@h1:2181,h2:2181/mesos", URL{Servers: []string{"h1:2181", "h2:2181"}, Path: "/mesos", Username: "jane", Password: "s3cr:t"}},
		{"file://" + zkFile, URL{Servers: []string{"10.0.0.1:2181", "10.0.0.2:2181"}, Path: "/mesos"}},
		{"127.0.0.1:5050", URL{Master: "127.0.0.1:5050"}},
		{"master@10.1.2.3:5050", URL{Master: "10.1.2.3:5050"}},
		{" localhost:5050 ", URL{Master: "localhost:5050"}},
	}
	for _, c := range good {
		got, err := ParseURL(c.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", c.in, *got, c.want)
		}
	}

	bad := []struct{ in, mention string }{
		{"", "empty"},
		{"zk://h:2181", "empty path"},
		{"zk://h:2181/", "empty path"},
		{"zk:///mesos", "no ZooKeeper servers"},
		{"zk://h:2181,/mesos", "empty host"},
		{"zk://h:99999/mesos", "bad port"},
		{"zk://h:x/mesos", "bad port"},
		{"zk://h$st:2181/mesos", "bad host"},
		{"zk://h:2181/a//b", "empty"},
		{"zk://:pw@h:2181/mesos", "user:password"},
		{"file://" + filepath.Join(dir, "missing"), "missing"},
		{"file://" + loopFile, "may not point at another file"},
		{"file://" + badFile, "empty path"},
		{"http://h:5050", "unsupported scheme"},
		{"localhost", "host:port"},
		{"localhost:0", "bad port"},
	}
	for _, c := range bad {
		_, err := ParseURL(c.in)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded, want an error mentioning %q", c.in, c.mention)
			continue
		}
		if !errors.Is(err, ErrBadURL) {
			t.Errorf("ParseURL(%q): %v does not wrap ErrBadURL", c.in, err)
		}
		if !strings.Contains(err.Error(), c.mention) {
			t.Errorf("ParseURL(%q): %q does not mention %q", c.in, err, c.mention)
		}
	}
}

func TestURLStringMasksPassword(t *testing.T) {
	u, err := ParseURL("zk://jane:secret@h1:2181/mesos")
	if err != nil {
		t.Fatal(err)
	}
	if s := u.String(); strings.Contains(s, "secret") || s != "zk://jane:****@h1:2181/mesos" {
		t.Errorf("String() = %q", s)
	}
}
