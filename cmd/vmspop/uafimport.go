package main

// "vmspop uaf import": creates or updates accounts from an OpenVMS system
// (the export of dist/vms/VMSPOP_EXPORT.COM, or AUTHORIZE LIST/FULL).

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/vmspop/vmspop/uaf"
)

// oneTimePasswordLen is the length of a password made by --set-password.
const oneTimePasswordLen = 14

// oneTimeAlphabet has no look-alike characters (0/O, 1/l/I).
const oneTimeAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// uafImport runs "import FILE [--dry-run] [--set-password OUT]".
func (c *uafCmd) uafImport(args []string) error {
	fset := c.newFlagSet("import")
	dry := fset.Bool("dry-run", false, "show what would change, write nothing")
	setPw := fset.String("set-password", "", "give accounts without a usable password a one-time password, listed in `OUT`")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return uafUsagef("import wants one file (the VMS export or AUTHORIZE LIST/FULL output)")
	}
	path, err := c.path()
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	accts, err := uaf.ParseVMSAccounts(f, pos[0])
	f.Close()
	if err != nil {
		return fmt.Errorf("%v\nnothing imported", err)
	}
	if *setPw != "" && !*dry {
		if _, err := os.Lstat(*setPw); err == nil {
			return fmt.Errorf("%s exists: --set-password never overwrites a file", *setPw)
		}
	}
	var results []uaf.ImportResult
	var oneTime [][2]string
	apply := func(db *uaf.DB) error {
		results = uaf.ApplyImport(db, accts)
		if *setPw == "" {
			return nil
		}
		for i, r := range results {
			if !r.NoLogin {
				continue
			}
			pw, err := oneTimePassword()
			if err != nil {
				return err
			}
			a, _ := db.Lookup(r.Name)
			if a.Hash, err = bcrypt.GenerateFromPassword([]byte(pw), c.cost); err != nil {
				return err
			}
			a.VMS = nil
			db.Put(a)
			oneTime = append(oneTime, [2]string{r.Name, pw})
			results[i].NoLogin = false
			results[i].Changes = append(results[i].Changes, "one-time password")
			if results[i].Action == "unchanged" {
				results[i].Action = "changed"
			}
		}
		if *dry || len(oneTime) == 0 {
			return nil
		}
		return writeOneTimePasswords(*setPw, oneTime)
	}
	if *dry {
		db, err := uaf.Load(path)
		if errors.Is(err, fs.ErrNotExist) {
			db, err = uaf.NewDB(), nil
		}
		if err != nil {
			return err
		}
		if err := apply(db); err != nil {
			return err
		}
	} else if err := updateAccounts(path, true, apply); err != nil {
		if len(oneTime) > 0 {
			os.Remove(*setPw) // the passwords were not applied
		}
		return err
	}
	count := map[string]int{}
	for _, r := range results {
		count[r.Action]++
		if r.Action != "unchanged" {
			fmt.Fprintf(c.stdout, "%-9s %-12s %s\n", r.Action, r.Name, strings.Join(r.Changes, ", "))
		}
	}
	var nologin []string
	for _, r := range results {
		if r.NoLogin {
			nologin = append(nologin, r.Name)
			fmt.Fprintf(c.stdout, "no password: %s (%s)\n", r.Name, r.Note)
		}
	}
	fmt.Fprintf(c.stdout, "%d created, %d changed, %d unchanged", count["created"], count["changed"], count["unchanged"])
	if *dry {
		fmt.Fprint(c.stdout, " (dry run: nothing written)")
	}
	fmt.Fprintln(c.stdout)
	if len(oneTime) > 0 && !*dry {
		fmt.Fprintf(c.stdout, "one-time passwords of %d accounts are in %s (mode 0600)\n", len(oneTime), *setPw)
	}
	if len(nologin) > 0 {
		fmt.Fprintf(c.stdout, "%d accounts cannot log in until they get a password: vmspop uaf modify USER --password-stdin, or import again with --set-password FILE\n", len(nologin))
	}
	return nil
}

// oneTimePassword returns a random password of oneTimePasswordLen
// characters (about 81 bits).
func oneTimePassword() (string, error) {
	b := make([]byte, oneTimePasswordLen)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(oneTimeAlphabet))))
		if err != nil {
			return "", err
		}
		b[i] = oneTimeAlphabet[n.Int64()]
	}
	return string(b), nil
}

// writeOneTimePasswords writes "USER PASSWORD" lines to a new file that
// only its owner can read, and fsyncs it.
func writeOneTimePasswords(path string, pws [][2]string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // whatever the umask
		f.Close()
		return err
	}
	var b strings.Builder
	b.WriteString("# one-time passwords from vmspop uaf import: give each user theirs, then delete this file\n")
	for _, p := range pws {
		fmt.Fprintf(&b, "%s %s\n", p[0], p[1])
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
