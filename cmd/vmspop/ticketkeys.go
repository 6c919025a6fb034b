package main

// The "vmspop ticketkeys" subcommand: the TLS session ticket key file that
// several instances (and inetd-started servers) share.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/ticketkeys"
)

const ticketKeysUsage = `usage: vmspop ticketkeys rotate [--keep N] [FILE]
  Puts a new random key on top of the TLS session ticket key file FILE
  (default: TCPIP$POP_TLS_TICKET_KEYS) and keeps the newest N keys in all
  (default 7). New tickets are made with the new key; tickets made with
  the others are still accepted. Servers that use the file read it again
  within a second. Run it daily (the timer vmspop-ticketkeys.timer does).
  A new file is made with mode 0600, owned by the spool owner when run as
  root; an existing one keeps its owner and mode.
`

// runTicketKeys runs "vmspop ticketkeys". It returns 0 on success, 1 when
// the file could not be rotated and 2 on a usage error.
func runTicketKeys(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rotate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, ticketKeysUsage)
			return 0
		}
		fmt.Fprint(stderr, ticketKeysUsage)
		return 2
	}
	fl := flag.NewFlagSet("ticketkeys rotate", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	keep := fl.Int("keep", ticketkeys.Keep, "")
	if err := fl.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, ticketKeysUsage)
			return 0
		}
		fmt.Fprintf(stderr, "vmspop ticketkeys: %v\n%s", err, ticketKeysUsage)
		return 2
	}
	if fl.NArg() > 1 || *keep < 1 {
		fmt.Fprint(stderr, ticketKeysUsage)
		return 2
	}
	path := fl.Arg(0)
	if path == "" {
		cfg, ok := loadToolConfig("ticketkeys", env, stderr)
		if !ok {
			return 1
		}
		if path = cfg.TicketKeys; path == "" {
			fmt.Fprintf(stderr, "vmspop ticketkeys: no FILE given and TCPIP$POP_TLS_TICKET_KEYS is not set\n")
			return 2
		}
	}
	n, created, err := ticketkeys.Rotate(path, *keep)
	if err != nil {
		fmt.Fprintf(stderr, "vmspop ticketkeys: %v\n", err)
		return 1
	}
	if created && os.Geteuid() == 0 {
		// A file root makes must be readable by serve after it has become
		// the spool owner.
		if err := chownToSpoolOwner(path, env); err != nil {
			fmt.Fprintf(stderr, "vmspop ticketkeys: %s is owned by root (%v): chown it to the spool owner\n", path, err)
		}
	}
	fmt.Fprintf(stdout, "%s: a new key on top, %d key(s) in all\n", path, n)
	return 0
}

// chownToSpoolOwner gives path to the spool owner of the configuration in
// env.
func chownToSpoolOwner(path string, env func(string) (string, bool)) error {
	cfg, _, err := logicals.Load(env, "")
	if err != nil {
		return err
	}
	a, err := resolveSpoolAccount(cfg)
	if err != nil {
		return err
	}
	return os.Chown(path, a.UID, a.GID)
}
