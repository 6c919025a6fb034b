package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vmspop/vmspop/delivery"
	"github.com/vmspop/vmspop/logicals"
	"github.com/vmspop/vmspop/spool"
)

// runAlert runs "vmspop alert [--as-mail] USER TEXT...": the alert is
// queued in USER's spool directory and refuses USER's next successful
// login with "-ERR ALERT: TEXT" (one alert per login attempt, oldest
// first), as CommuniGate Pro does. With --as-mail it is delivered to
// NEWMAIL instead, through the code path of "vmspop deliver".
func runAlert(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmspop alert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asMail := fs.Bool("as-mail", false, "deliver the alert to NEWMAIL as a message instead")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vmspop alert [--as-mail] USER TEXT...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return 2
	}
	// Checked before upper-casing: strings.ToUpper("ſmith") is "SMITH".
	if !spool.ValidName(fs.Arg(0)) {
		fmt.Fprintf(stderr, "vmspop alert: invalid user name %q\n", fs.Arg(0))
		return 2
	}
	user := strings.ToUpper(fs.Arg(0))
	text := strings.Join(fs.Args()[1:], " ")
	if text == "" || len(text) > spool.MaxAlert || strings.ContainsAny(text, "\r\n") {
		fmt.Fprintf(stderr, "vmspop alert: the text must be one line of 1 to %d characters\n", spool.MaxAlert)
		return 2
	}
	cfg, _, err := logicals.Load(env, "")
	if err != nil {
		fmt.Fprintln(stderr, "vmspop alert:", err)
		return 2
	}
	if err := actAsSpoolOwner(cfg); err != nil {
		fmt.Fprintln(stderr, "vmspop alert:", err)
		return 1
	}
	sp := spool.New(cfg.Spool)
	ctx := context.Background()
	now := time.Now()
	if *asMail {
		err = mailAlert(ctx, sp, cfg, user, text, now)
	} else {
		err = sp.QueueAlert(ctx, user, text, now)
	}
	if err != nil {
		fmt.Fprintln(stderr, "vmspop alert:", err)
		return 1
	}
	if *asMail {
		fmt.Fprintf(stdout, "alert delivered to %s's NEWMAIL\n", user)
	} else {
		n, _ := sp.PendingAlerts(user)
		fmt.Fprintf(stdout, "alert queued for %s (%d pending)\n", user, n)
	}
	return 0
}

// mailAlert delivers the alert as a message to user's NEWMAIL, built
// as RFC 5322 text and turned into MAIL-11 by the deliver code.
func mailAlert(ctx context.Context, sp *spool.Spool, cfg *logicals.Config, user, text string, now time.Time) error {
	host := cfg.SubstituteDomain
	if host == "" {
		host = cfg.Hostname
	}
	if host == "" {
		host = "localhost"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: POP administrator <postmaster@%s>\r\nTo: %s\r\nSubject: Alert: %s\r\nDate: %s\r\n\r\n%s\r\n",
		host, user, text, now.Format(time.RFC1123Z), text)
	r := bytes.NewReader(b.Bytes())
	d, err := delivery.Prepare(r, r.Size(), "postmaster@"+host, true, now)
	if err != nil {
		return err
	}
	return sp.Append(ctx, user, spool.NewMail, []spool.NewMessage{d.NewMessage()})
}
