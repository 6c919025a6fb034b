package main

// The "vmspop purge" subcommand: MAIL's PURGE/RECLAIM on demand.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vmspop/vmspop/spool"
)

const purgeUsage = `usage: vmspop purge USER|--all [--older-than DAYS]
  Empties WASTEBASKET (VMS MAIL's PURGE/RECLAIM) of USER, or of every user
  with --all, giving the space back. With --older-than, only the messages
  that arrived more than DAYS days ago are purged. Each purge is atomic:
  a crash leaves the old WASTEBASKET or the new one.
`

// runPurge runs "vmspop purge". It returns 0 on success, 1 when a user's
// WASTEBASKET could not be purged and 2 on a usage error.
func runPurge(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	all := fs.Bool("all", false, "")
	days := fs.Int("older-than", 0, "")
	// Flags may follow the user name.
	var users []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, purgeUsage)
				return 0
			}
			fmt.Fprintf(stderr, "vmspop purge: %v\n%s", err, purgeUsage)
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		users = append(users, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *all == (len(users) == 1) || len(users) > 1 || *days < 0 {
		fmt.Fprint(stderr, purgeUsage)
		return 2
	}
	cfg, ok := loadToolConfig("purge", env, stderr)
	if !ok {
		return 1
	}
	if err := actAsSpoolOwner(cfg); err != nil {
		fmt.Fprintf(stderr, "vmspop purge: %v\n", err)
		return 1
	}
	sp := spool.New(cfg.Spool)
	if *all {
		ents, err := os.ReadDir(cfg.Spool)
		if err != nil {
			fmt.Fprintf(stderr, "vmspop purge: %v\n", err)
			return 1
		}
		for _, e := range ents {
			if e.IsDir() && spool.ValidName(e.Name()) && strings.ToUpper(e.Name()) == e.Name() {
				users = append(users, e.Name())
			}
		}
		slices.Sort(users)
	} else if !spool.ValidName(users[0]) {
		fmt.Fprintf(stderr, "vmspop purge: invalid user name %q\n", users[0])
		return 1
	}
	var before time.Time
	if *days > 0 {
		before = time.Now().Add(-time.Duration(*days) * 24 * time.Hour)
	}
	code := 0
	var purged int
	var freed int64
	for _, u := range users {
		u = strings.ToUpper(u)
		res, err := sp.Purge(context.Background(), u, before)
		if err != nil {
			if errors.Is(err, spool.ErrNoMailbox) {
				err = errors.New("no mail directory")
			}
			fmt.Fprintf(stderr, "vmspop purge: %s: %v\n", u, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: %d message(s) purged, %d kept, %d bytes reclaimed\n", u, res.Purged, res.Kept, res.Freed)
		purged += res.Purged
		freed += res.Freed
	}
	if *all {
		fmt.Fprintf(stdout, "total: %d user(s), %d message(s) purged, %d bytes reclaimed\n", len(users), purged, freed)
	}
	return code
}
