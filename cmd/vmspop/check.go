package main

// vmspop check: every reason serve would not start, or would start unsafely,
// reported at once (docs/service.md). The unit file runs it as
// ExecStartPre.

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/rewrite"
	"github.com/vmspop/vmspop/spool"
	"github.com/vmspop/vmspop/uaf"
)

// checker collects problems (serve would not start, or would refuse
// mail) and warnings.
type checker struct {
	out      io.Writer
	problems int
}

func (c *checker) problem(format string, args ...any) {
	c.problems++
	fmt.Fprintf(c.out, "vmspop check: problem: %s\n", fmt.Sprintf(format, args...))
}

func (c *checker) warn(format string, args ...any) {
	fmt.Fprintf(c.out, "vmspop check: warning: %s\n", fmt.Sprintf(format, args...))
}

func (c *checker) ok(format string, args ...any) {
	fmt.Fprintf(c.out, "vmspop check: ok: %s\n", fmt.Sprintf(format, args...))
}

// logicalNameRE finds a logical name in either spelling; group 1 is the
// part after the prefix.
var logicalNameRE = regexp.MustCompile(`TCPIP[$_]POP_([A-Z0-9_]+)`)

func runCheck(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	c := &checker{out: stdout}
	var grace time.Duration
	var inetd bool
	var msg strings.Builder
	cfg, warns, _, ok := loadConfig(args, "check", env, &msg, serveFlags(&grace, &inetd, new(string)))
	if !ok {
		text := strings.TrimSpace(msg.String())
		if strings.Contains(text, "flag provided but not defined") || strings.HasPrefix(text, "Usage") {
			fmt.Fprintln(stderr, text)
			return 2
		}
		bad := map[string]bool{}
		for _, line := range strings.Split(text, "\n") {
			c.problem("%s", strings.TrimPrefix(line, "vmspop: "))
			for _, m := range logicalNameRE.FindAllStringSubmatch(line, -1) {
				bad[m[1]] = true
			}
		}
		// Go on with the other checks, the bad names left at their
		// defaults, when they all come from the environment.
		without := func(k string) (string, bool) {
			if m := logicalNameRE.FindStringSubmatch(k); m != nil && bad[m[1]] {
				return "", false
			}
			if env == nil {
				return os.LookupEnv(k)
			}
			return env(k)
		}
		cfg, warns, _, ok = loadConfig(args, "check", without, io.Discard, serveFlags(&grace, &inetd, new(string)))
		if !ok {
			fmt.Fprintf(stdout, "vmspop check: %d problem(s): serve would not start\n", c.problems)
			return 1
		}
		c.warn("the checks below take the bad names above as undefined")
	}
	for _, w := range warns {
		c.warn("%s", w.String())
	}
	if c.problems == 0 {
		c.ok("logical names (%d defined)", len(cfg.Sources))
	}
	c.checkSpool(cfg)
	c.checkUAF(cfg)
	c.checkCert(cfg)
	c.checkNodes(cfg)
	if cfg.Hostname == "" {
		if _, err := os.Hostname(); err != nil {
			c.problem("host name: %v (set TCPIP$POP_HOSTNAME)", err)
		}
	}
	if c.problems == 0 {
		// What serve itself builds, in case a check above missed something.
		log := logrus.New()
		log.SetOutput(io.Discard)
		if _, err := newServer(cfg, log, spool.New(cfg.Spool), nil, nil); err != nil {
			c.problem("%v", err)
		}
	}
	if c.problems > 0 {
		fmt.Fprintf(stdout, "vmspop check: %d problem(s): serve would not start\n", c.problems)
		return 1
	}
	fmt.Fprintln(stdout, "vmspop check: serve would start")
	return 0
}

// checkSpool checks the spool directory, each user directory and the
// files in it: owned by the spool owner, not writable by others, no
// symbolic links.
func (c *checker) checkSpool(cfg *logicals.Config) {
	a, err := resolveSpoolAccount(cfg)
	if err != nil {
		c.problem("%v", err)
		return
	}
	if err := checkSpoolRoot(cfg.Spool, a); err != nil {
		c.problem("%v", err)
		return
	}
	if euid := os.Geteuid(); euid != 0 && euid != a.UID {
		c.problem("running as uid %d, but the spool owner is %s: serve must run as it or as root", euid, a)
	}
	if a.UID == 0 {
		c.warn("the spool owner is root: serve would run as root (set TCPIP$POP_USER, chown the spool)")
	}
	ents, err := os.ReadDir(cfg.Spool)
	if err != nil {
		c.problem("TCPIP$POP_SPOOL: %v", err)
		return
	}
	users, bad := 0, 0
	for _, e := range ents {
		dir := filepath.Join(cfg.Spool, e.Name())
		if !spool.ValidName(e.Name()) {
			continue
		}
		fi, err := os.Lstat(dir)
		if err != nil {
			c.problem("%v", err)
			continue
		}
		if !fi.IsDir() {
			if fi.Mode()&fs.ModeSymlink != 0 {
				c.problem("%s is a symbolic link: the server refuses it", dir)
				bad++
			}
			continue
		}
		users++
		bad += c.checkOwned(dir, fi, a)
		files, err := os.ReadDir(dir)
		if err != nil {
			c.problem("%v", err)
			continue
		}
		for _, f := range files {
			p := filepath.Join(dir, f.Name())
			ffi, err := os.Lstat(p)
			if err != nil {
				continue // removed meanwhile (a lock)
			}
			if !ffi.Mode().IsRegular() {
				c.problem("%s is not a regular file (a symbolic link?): the server refuses it", p)
				bad++
				continue
			}
			bad += c.checkOwned(p, ffi, a)
			if f.Name() == ".journal" {
				c.warn("%s: an update was interrupted; the next access to %s finishes or undoes it", p, e.Name())
			}
		}
	}
	if bad == 0 {
		c.ok("spool %s: %d user directories, owned by %s", cfg.Spool, users, a)
	}
}

// checkOwned reports a file or directory of the spool that the spool
// owner does not own, or that others may write; it returns the problems.
func (c *checker) checkOwned(path string, fi fs.FileInfo, a *spoolAccount) int {
	n := 0
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != a.UID {
		c.problem("%s is owned by uid %d, not by the spool owner %s (chown -R %s %s)", path, st.Uid, a, a.Name, filepath.Dir(path))
		n++
	}
	if fi.Mode().Perm()&0o002 != 0 {
		c.problem("%s is writable by others (mode %o)", path, fi.Mode().Perm())
		n++
	}
	return n
}

// checkUAF checks that the accounts file parses and belongs to the spool
// owner (or root), unreadable by others.
func (c *checker) checkUAF(cfg *logicals.Config) {
	db, err := uaf.Load(cfg.UAF)
	if err != nil {
		c.problem("TCPIP$POP_UAF: %v", err)
		return
	}
	fi, err := os.Stat(cfg.UAF)
	if err != nil {
		c.problem("TCPIP$POP_UAF: %v", err)
		return
	}
	if a, err := resolveSpoolAccount(cfg); err == nil {
		if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != a.UID && uid != 0 {
			c.problem("TCPIP$POP_UAF %s is owned by uid %d, not by the spool owner %s or root", cfg.UAF, uid, a)
		}
	}
	if fi.Mode().Perm()&0o022 != 0 {
		c.problem("TCPIP$POP_UAF %s is writable by its group or others (mode %o)", cfg.UAF, fi.Mode().Perm())
	}
	if fi.Mode().Perm()&0o004 != 0 {
		c.warn("TCPIP$POP_UAF %s is readable by everyone (mode %o): it holds password hashes and APOP secrets", cfg.UAF, fi.Mode().Perm())
	}
	c.ok("accounts file %s: %d accounts", cfg.UAF, db.Len())
}

// checkCert checks that the certificate and key load, match, and have not
// expired.
func (c *checker) checkCert(cfg *logicals.Config) {
	if cfg.Cert == "" {
		if cfg.TLSListen != "" {
			c.problem("TCPIP$POP_TLS_LISTEN is set but TCPIP$POP_CERT is not")
		}
		return
	}
	pair, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
	if err != nil {
		c.problem("TLS certificate %s / key %s: %v", cfg.Cert, cfg.Key, err)
		return
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		c.problem("TLS certificate %s: %v", cfg.Cert, err)
		return
	}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		c.problem("TLS certificate %s expired on %s", cfg.Cert, leaf.NotAfter.Format(time.DateOnly))
	case now.Before(leaf.NotBefore):
		c.problem("TLS certificate %s is not valid before %s", cfg.Cert, leaf.NotBefore.Format(time.DateOnly))
	case leaf.NotAfter.Sub(now) < 14*24*time.Hour:
		c.warn("TLS certificate %s expires on %s", cfg.Cert, leaf.NotAfter.Format(time.DateOnly))
	}
	c.ok("TLS certificate %s (%s, until %s)", cfg.Cert, leaf.Subject.CommonName, leaf.NotAfter.Format(time.DateOnly))
}

// checkNodes checks the DECnet node table.
func (c *checker) checkNodes(cfg *logicals.Config) {
	if cfg.DECnetNodes == "" {
		return
	}
	f, err := os.Open(cfg.DECnetNodes)
	if err != nil {
		c.problem("TCPIP$POP_DECNET_NODES: %v", err)
		return
	}
	defer f.Close()
	nodes, err := rewrite.ParseNodeTable(f)
	if err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			c.problem("TCPIP$POP_DECNET_NODES %s: %s", cfg.DECnetNodes, l)
		}
		return
	}
	c.ok("node table %s: %d nodes", cfg.DECnetNodes, len(nodes))
}
