package main

// The "vmspop uaf" subcommand: the gateway's AUTHORIZE, which maintains the
// accounts file of package uaf.

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/vmspop/vmspop/uaf"
)

// uafUsage is printed for -h and after a usage error.
const uafUsage = `usage: vmspop uaf [--uaf FILE] COMMAND [ARGUMENTS]

commands:
  add USER [--password-stdin] [--apop-secret-stdin] [--flags F] [--expires YYYY-MM-DD|none]
  modify USER [--password-stdin] [--apop-secret-stdin | --no-apop-secret]
              [--flags F] [--expires YYYY-MM-DD|none]
              [--login-delay DURATION|none] [--grant USER:read[,delete]]... [--revoke USER]...
  show USER
  list
  remove USER
  import FILE [--dry-run] [--set-password OUT]   accounts from VMS (docs/migration.md)

The accounts file is $TCPIP$POP_UAF (or $TCPIP_POP_UAF), else --uaf FILE.
F is a comma-separated list of DISUSER and DISMAIL; --flags "" clears them.
--expires gives the last day on which the account may be used.
--login-delay (e.g. 5m) overrides TCPIP$POP_LOGIN_DELAY for the account.
--grant lets USER open this account's folders as ~OWNER/FOLDER#USER
(read, or read and delete); --revoke takes that back (docs/extensions.md).
Passwords and APOP secrets never come from the command line: with
--password-stdin and/or --apop-secret-stdin, standard input holds one line
for each (password first); on a terminal they are prompted for twice, without
echo. add always sets a password.
`

// uafLockTimeout is how long a writer waits for another one to finish.
const uafLockTimeout = 10 * time.Second

// uafMaxSecretLine bounds a password or secret line read from stdin.
const uafMaxSecretLine = 1024

// uafUsageError is a mistake in the command line (exit status 2).
type uafUsageError struct{ msg string }

func (e *uafUsageError) Error() string { return e.msg }

// uafUsagef returns a *uafUsageError.
func uafUsagef(format string, args ...any) error {
	return &uafUsageError{msg: fmt.Sprintf(format, args...)}
}

// uafCmd is one run of "vmspop uaf".
type uafCmd struct {
	env            func(string) (string, bool)
	stdin          io.Reader
	stdout, stderr io.Writer
	cost           int // bcrypt cost of new hashes
	now            func() time.Time

	uafPath string        // --uaf
	lines   *bufio.Reader // stdin when it is not a terminal, made on first use
}

// runUAF runs "vmspop uaf" with args, the arguments after "uaf", and
// returns the exit status: 0 on success, 1 on failure, 2 on a usage error.
// env looks up environment variables (os.LookupEnv).
func runUAF(args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	c := &uafCmd{env: env, stdin: stdin, stdout: stdout, stderr: stderr,
		cost: bcrypt.DefaultCost, now: time.Now}
	return c.main(args)
}

// main runs the command and maps its error to an exit status.
func (c *uafCmd) main(args []string) int {
	err := c.run(args)
	var ue *uafUsageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(c.stdout, uafUsage)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "vmspop uaf: %s\nRun \"vmspop uaf -h\" for usage.\n", ue.msg)
		return 2
	default:
		fmt.Fprintf(c.stderr, "vmspop uaf: %s\n", strings.TrimPrefix(err.Error(), "uaf: "))
		return 1
	}
}

// uafOptString is a string flag that records whether it was given, so that
// --flags "" (clear) differs from no --flags.
type uafOptString struct {
	val string
	set bool
}

func (o *uafOptString) String() string { return o.val }

func (o *uafOptString) Set(s string) error {
	o.val, o.set = s, true
	return nil
}

// newFlagSet returns a flag set for a subcommand that knows --uaf.
func (c *uafCmd) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("vmspop uaf "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by main
	fs.StringVar(&c.uafPath, "uaf", c.uafPath, "accounts `FILE`")
	return fs
}

// parseArgs parses args with fs, allowing flags after positional arguments
// ("add SMITH --password-stdin"), and returns the positional arguments. "--"
// ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &uafUsageError{msg: err.Error()}
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// run parses the command line and runs the subcommand.
func (c *uafCmd) run(args []string) error {
	top := c.newFlagSet("")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &uafUsageError{msg: err.Error()}
	}
	args = top.Args()
	if len(args) == 0 {
		return uafUsagef("missing command (add, modify, show, list, remove or import)")
	}
	switch cmd, rest := strings.ToLower(args[0]), args[1:]; cmd {
	case "add", "modify":
		return c.addModify(cmd, rest)
	case "show":
		return c.show(rest)
	case "list":
		return c.list(rest)
	case "remove":
		return c.remove(rest)
	case "import":
		return c.uafImport(rest) // uafimport.go
	default:
		return uafUsagef("unknown command %q (want add, modify, show, list or remove)", args[0])
	}
}

// path returns the accounts file named by the environment or --uaf.
func (c *uafCmd) path() (string, error) {
	var envName, envVal string
	for _, name := range []string{"TCPIP$POP_UAF", "TCPIP_POP_UAF"} {
		v, ok := c.env(name)
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			continue
		}
		if envVal != "" && v != envVal {
			return "", uafUsagef("%s %q and %s %q are both set and differ: unset one", envName, envVal, name, v)
		}
		if envVal == "" {
			envName, envVal = name, v
		}
	}
	switch {
	case envVal != "" && c.uafPath != "" && filepath.Clean(envVal) != filepath.Clean(c.uafPath):
		return "", uafUsagef("--uaf %q conflicts with %s %q: use one", c.uafPath, envName, envVal)
	case envVal != "":
		return envVal, nil
	case c.uafPath != "":
		return c.uafPath, nil
	}
	return "", uafUsagef("no accounts file: define TCPIP$POP_UAF or give --uaf FILE")
}

// oneUser checks that pos is exactly one valid user name and returns it
// upper case.
func oneUser(pos []string) (string, error) {
	if len(pos) != 1 {
		return "", uafUsagef("want exactly one user name, got %d arguments", len(pos))
	}
	if !uaf.ValidName(pos[0]) {
		return "", fmt.Errorf("invalid user name %q (1 to 31 of A-Z a-z 0-9 _ $ -)", pos[0])
	}
	return strings.ToUpper(pos[0]), nil
}

// addModify runs "add" and "modify".
func (c *uafCmd) addModify(cmd string, args []string) error {
	fset := c.newFlagSet(cmd)
	pwStdin := fset.Bool("password-stdin", false, "read the password from standard input")
	secStdin := fset.Bool("apop-secret-stdin", false, "read the APOP secret from standard input")
	noSecret := new(bool)
	if cmd == "modify" {
		fset.BoolVar(noSecret, "no-apop-secret", false, "remove the APOP secret")
	}
	var flagsOpt, expiresOpt uafOptString
	fset.Var(&flagsOpt, "flags", "flags: DISUSER,DISMAIL or \"\"")
	fset.Var(&expiresOpt, "expires", "last day YYYY-MM-DD, or none")
	var ext uafExtOptions
	ext.register(fset)
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	name, err := oneUser(pos)
	if err != nil {
		return err
	}
	path, err := c.path()
	if err != nil {
		return err
	}
	if *secStdin && *noSecret {
		return uafUsagef("--apop-secret-stdin and --no-apop-secret contradict each other")
	}
	var flags uaf.Flags
	if flagsOpt.set {
		if flags, err = uaf.ParseFlags(flagsOpt.val); err != nil {
			return &uafUsageError{msg: strings.TrimPrefix(err.Error(), "uaf: ")}
		}
	}
	var expires time.Time
	if expiresOpt.set && !strings.EqualFold(expiresOpt.val, "none") {
		if expires, err = uaf.ParseDate(expiresOpt.val); err != nil {
			return &uafUsageError{msg: "--expires: " + strings.TrimPrefix(err.Error(), "uaf: ") + ` or "none"`}
		}
	}
	if cmd == "modify" && !*pwStdin && !*secStdin && !*noSecret && !flagsOpt.set && !expiresOpt.set && !ext.set() {
		return uafUsagef("modify %s: nothing to change", name)
	}

	// A quick check without the lock, so that nobody types a password in
	// vain; it is repeated under the lock.
	if db, err := uaf.Load(path); err == nil {
		if _, exists := db.Lookup(name); exists && cmd == "add" {
			return fmt.Errorf("user %s already exists (use modify)", name)
		} else if !exists && cmd == "modify" {
			return fmt.Errorf("no user %s in %s", name, path)
		}
	}

	// Read secrets before taking the lock: a prompt may wait for a person.
	var hash []byte
	if *pwStdin || cmd == "add" {
		pw, err := c.readSecret("Password", *pwStdin)
		if err != nil {
			return err
		}
		if len(pw) > 72 {
			return errors.New("password longer than 72 bytes (the bcrypt limit)")
		}
		if hash, err = bcrypt.GenerateFromPassword([]byte(pw), c.cost); err != nil {
			return fmt.Errorf("hash password: %w", err)
		}
	}
	var secret []byte
	if *secStdin {
		s, err := c.readSecret("APOP secret", true)
		if err != nil {
			return err
		}
		secret = []byte(s)
	}

	err = updateAccounts(path, cmd == "add", func(db *uaf.DB) error {
		a, exists := db.Lookup(name)
		switch {
		case cmd == "add" && exists:
			return fmt.Errorf("user %s already exists (use modify)", name)
		case cmd == "add":
			a = &uaf.Account{Name: name}
		case !exists:
			return fmt.Errorf("no user %s in %s", name, path)
		}
		if hash != nil {
			a.Hash = hash
		}
		if secret != nil {
			a.Secret = secret
		}
		if *noSecret {
			a.Secret = nil
		}
		if flagsOpt.set {
			a.Flags = flags
		}
		if expiresOpt.set {
			a.Expires = expires
		}
		ext.apply(a)
		db.Put(a)
		return nil
	})
	if err != nil {
		return err
	}
	if cmd == "add" {
		fmt.Fprintf(c.stdout, "user %s added to %s\n", name, path)
	} else {
		fmt.Fprintf(c.stdout, "user %s modified\n", name)
	}
	return nil
}

// updateAccounts changes the accounts file at path under the writers'
// lock: it loads the file (an empty one if create and there is none yet),
// lets change edit it, and writes it back whole (atomically, as
// uaf.DB.WriteFile does). Nothing is written when change fails.
func updateAccounts(path string, create bool, change func(*uaf.DB) error) error {
	return uaf.Update(path, create, uafLockTimeout, change)
}

// stdinTerminal returns the descriptor of stdin if it is a terminal.
func (c *uafCmd) stdinTerminal() (int, bool) {
	f, ok := c.stdin.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// readSecret returns a password or secret. On a terminal it prompts twice
// without echo; otherwise, if fromStdin, it reads the next line of stdin
// (without its LF or CRLF). It never returns an empty string.
func (c *uafCmd) readSecret(what string, fromStdin bool) (string, error) {
	if fd, ok := c.stdinTerminal(); ok {
		fmt.Fprintf(c.stderr, "%s: ", what)
		first, err := term.ReadPassword(fd)
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", strings.ToLower(what), err)
		}
		fmt.Fprint(c.stderr, "Verify: ")
		second, err := term.ReadPassword(fd)
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", strings.ToLower(what), err)
		}
		if string(first) != string(second) {
			return "", fmt.Errorf("%s verification failed: the two entries differ", strings.ToLower(what))
		}
		if len(first) == 0 {
			return "", fmt.Errorf("empty %s", strings.ToLower(what))
		}
		return string(first), nil
	}
	flagName := "--password-stdin"
	if what != "Password" {
		flagName = "--apop-secret-stdin"
	}
	if !fromStdin {
		return "", fmt.Errorf("no %s: standard input is not a terminal; use %s", strings.ToLower(what), flagName)
	}
	if c.lines == nil {
		c.lines = bufio.NewReaderSize(c.stdin, uafMaxSecretLine+2)
	}
	line, err := c.lines.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("%s on standard input is longer than %d bytes", strings.ToLower(what), uafMaxSecretLine)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s: %w", strings.ToLower(what), err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("no %s on standard input (%s wants one line)", strings.ToLower(what), flagName)
	}
	return s, nil
}

// load reads the accounts file for show and list.
func (c *uafCmd) load(args []string, name string) ([]string, *uaf.DB, error) {
	fset := c.newFlagSet(name)
	pos, err := parseArgs(fset, args)
	if err != nil {
		return nil, nil, err
	}
	path, err := c.path()
	if err != nil {
		return nil, nil, err
	}
	if name == "list" {
		if len(pos) != 0 {
			return nil, nil, uafUsagef("list takes no arguments")
		}
	} else if _, err := oneUser(pos); err != nil {
		return nil, nil, err
	}
	db, err := uaf.Load(path)
	if err != nil {
		return nil, nil, err
	}
	return pos, db, nil
}

// flagsText and expiresText render an account for show and list.
func flagsText(a *uaf.Account) string {
	if a.Flags == 0 {
		return "-"
	}
	return a.Flags.String()
}

func (c *uafCmd) expiresText(a *uaf.Account) string {
	d := a.ExpiryDate()
	switch {
	case d == "":
		return "none"
	case a.Expired(c.now()):
		return d + " (expired)"
	}
	return d
}

// show runs "show USER". It never prints a hash or a secret.
func (c *uafCmd) show(args []string) error {
	pos, db, err := c.load(args, "show")
	if err != nil {
		return err
	}
	a, ok := db.Lookup(pos[0])
	if !ok {
		return fmt.Errorf("no user %s", strings.ToUpper(pos[0]))
	}
	set := func(b []byte) string {
		if len(b) > 0 {
			return "set"
		}
		return "not set"
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "Username:\t%s\n", a.Name)
	fmt.Fprintf(tw, "Flags:\t%s\n", flagsText(a))
	fmt.Fprintf(tw, "Expires:\t%s\n", c.expiresText(a))
	if pw := set(a.Hash); len(a.Hash) == 0 && a.VMS != nil {
		fmt.Fprintf(tw, "Password:\tVMS hash (%s), replaced at the first login\n", a.VMS.AlgorithmName())
	} else {
		fmt.Fprintf(tw, "Password:\t%s\n", pw)
	}
	fmt.Fprintf(tw, "APOP secret:\t%s\n", set(a.Secret))
	showExt(tw, a)
	return tw.Flush()
}

// list runs "list": one line per account with name, flags and expiry.
func (c *uafCmd) list(args []string) error {
	_, db, err := c.load(args, "list")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, a := range db.Accounts() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, flagsText(a), c.expiresText(a))
	}
	return tw.Flush()
}

// remove runs "remove USER".
func (c *uafCmd) remove(args []string) error {
	fset := c.newFlagSet("remove")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	name, err := oneUser(pos)
	if err != nil {
		return err
	}
	path, err := c.path()
	if err != nil {
		return err
	}
	err = updateAccounts(path, false, func(db *uaf.DB) error {
		if !db.Remove(name) {
			return fmt.Errorf("no user %s in %s", name, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "user %s removed\n", name)
	return nil
}
