package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestMakeInstall runs `make install DESTDIR=...` and checks the tree: the
// binary (which reports its revision), the delivery agent vmspop-deliver, the units pointing at it, the
// sample environment, the logrotate file and the two man pages, which
// groff formats without a warning.
func TestMakeInstall(t *testing.T) {
	requireTool(t, "make")
	dest := t.TempDir()
	bin := filepath.Join(t.TempDir(), "vmspop")
	cmd := exec.Command("make", "-C", "../..", "install", "DESTDIR="+dest, "PREFIX=/usr/local", "BIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	var tree []string
	filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fi, _ := d.Info()
			tree = append(tree, fi.Mode().String()+" "+strings.TrimPrefix(p, dest))
		}
		return nil
	})
	sort.Strings(tree)
	t.Logf("installed:\n%s", strings.Join(tree, "\n"))
	want := []string{
		"-rwxr-xr-x /usr/local/bin/vmspop",
		"-rwxr-xr-x /usr/local/bin/vmspop-deliver",
		"-rw-r--r-- /usr/local/lib/systemd/system/vmspop.service",
		"-rw-r--r-- /usr/local/lib/systemd/system/vmspop.socket",
		"-rw-r--r-- /usr/local/lib/systemd/system/vmspop-ticketkeys.service",
		"-rw-r--r-- /usr/local/lib/systemd/system/vmspop-ticketkeys.timer",
		"-rw-r--r-- /etc/vmspop/vmspop.env.sample",
		"-rw-r----- /etc/vmspop/vmspop.env",
		"-rw-r--r-- /etc/logrotate.d/vmspop",
		"-rw-r--r-- /usr/local/share/man/man8/vmspop.8",
		"-rw-r--r-- /usr/local/share/man/man8/vmspop-deliver.8",
	}
	got := strings.Join(tree, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q", w)
		}
	}
	if len(tree) != len(want) {
		t.Errorf("installed %d files, want %d", len(tree), len(want))
	}
	unit, _ := os.ReadFile(filepath.Join(dest, "usr/local/lib/systemd/system/vmspop.service"))
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/vmspop serve") {
		t.Errorf("unit ExecStart:\n%s", unit)
	}
	unit, _ = os.ReadFile(filepath.Join(dest, "usr/local/lib/systemd/system/vmspop-ticketkeys.service"))
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/vmspop ticketkeys rotate") {
		t.Errorf("vmspop-ticketkeys.service ExecStart:\n%s", unit)
	}
	out, err := exec.Command(filepath.Join(dest, "usr/local/bin/vmspop"), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "module github.com/vmspop/vmspop") {
		t.Errorf("vmspop version: %v\n%s", err, out)
	}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		if !strings.Contains(string(out), "revision "+strings.TrimSpace(string(head))) {
			t.Errorf("vmspop version does not report revision %s:\n%s", head, out)
		}
	}
	// vmspop-deliver without a user: its usage, exit 64 (EX_USAGE).
	out, err = exec.Command(filepath.Join(dest, "usr/local/bin/vmspop-deliver")).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 64 || !strings.Contains(string(out), "usage: vmspop-deliver [-f SENDER] USER...") {
		t.Errorf("vmspop-deliver without arguments: %v\n%s", err, out)
	}
	// A second install keeps an edited vmspop.env.
	env := filepath.Join(dest, "etc/vmspop/vmspop.env")
	os.WriteFile(env, []byte("TCPIP_POP_USER=mine\n"), 0o640)
	if out, err := exec.Command("make", "-C", "../..", "install", "DESTDIR="+dest, "BIN="+bin).CombinedOutput(); err != nil {
		t.Fatalf("second make install: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(env); string(b) != "TCPIP_POP_USER=mine\n" {
		t.Errorf("make install replaced an existing vmspop.env: %q", b)
	}
	if groff, err := exec.LookPath("groff"); err == nil {
		for _, page := range []string{"vmspop.8", "vmspop-deliver.8"} {
			out, err := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", filepath.Join(dest, "usr/local/share/man/man8", page)).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("groff %s: %v\n%s", page, err, out)
			}
		}
	}
}

// TestDockerBuild builds the image where a Docker engine runs (DOCKER_HOST
// is honoured) and its base images are at hand, runs `vmspop version` in
// it and checks that it runs as a non-root user.
func TestDockerBuild(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker is not installed here (no engine): the Dockerfile is not built")
	}
	if out, err := exec.Command(docker, "info").CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Skipf("no Docker engine runs here (docker info: %s): the Dockerfile is not built", strings.TrimSpace(lines[len(lines)-1]))
	}
	// The base images must be here or pullable: a machine whose engine
	// cannot reach their registry cannot build the image either.
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(df), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		if exec.Command(docker, "image", "inspect", f[1]).Run() == nil {
			continue
		}
		if out, err := exec.Command(docker, "pull", f[1]).CombinedOutput(); err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Skipf("the base image %s is not here and cannot be pulled (docker pull: %s): the Dockerfile is not built", f[1], lines[len(lines)-1])
		}
	}
	args := []string{"build", "-t", "vmspop-test"}
	if n := os.Getenv("VMSPOP_DOCKER_NETWORK"); n != "" {
		args = append(args, "--network", n) // e.g. host, for an engine started without a bridge
	}
	out, err := exec.Command(docker, append(args, "../..")...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	out, err = exec.Command(docker, "run", "--rm", "--network", "none", "vmspop-test", "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "vmspop") {
		t.Fatalf("docker run vmspop-test version: %v\n%s", err, out)
	}
	out, _ = exec.Command(docker, "image", "inspect", "-f", "{{.Config.User}}", "vmspop-test").CombinedOutput()
	if u := strings.TrimSpace(string(out)); u == "" || u == "0" || u == "root" {
		t.Errorf("the image runs as %q, want a non-root user", u)
	}
	// Small: the two static binaries on a base without a distribution.
	out, _ = exec.Command(docker, "image", "inspect", "-f", "{{.Size}}", "vmspop-test").CombinedOutput()
	if size, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil || size > 64<<20 {
		t.Errorf("image size %q, want at most 64 MiB", out)
	}
}
