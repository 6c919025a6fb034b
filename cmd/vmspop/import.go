package main

// The "vmspop import" subcommand: migrates the messages of VMS MAIL
// EXTRACT/ALL files into a user's folder, keeping their original dates.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/rewrite"
	"github.com/vmspop/vmspop/spool"
)

const importUsage = `usage: vmspop import USER FILE... [--folder NEWMAIL|MAIL|NAME]
       vmspop import --tree DIR [--jobs N]    (a whole export: DIR/USER/FOLDER.TXT)

Imports the messages of files written by VMS MAIL's EXTRACT/ALL into a
folder of USER (default NEWMAIL), keeping their dates. Every file is
checked first: if any message is malformed nothing is imported. Messages
already in the folder are skipped, so importing a file twice is harmless.
`

// importProgressMin is the file size from which a progress bar is shown
// (on a terminal).
const importProgressMin = 1 << 20

// runImport runs "vmspop import" with args, the arguments after "import".
// It returns 0 on success, 1 on failure (nothing imported) and 2 on a usage
// error. env looks up environment variables.
func runImport(args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	if isTreeImport(args) {
		return runImportTree(args, env, stdout, stderr) // importtree.go
	}
	user, files, folder, err := parseImportArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, importUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmspop import: %v\n%s", err, importUsage)
		return 2
	}
	cfg, ok := loadToolConfig("import", env, stderr)
	if !ok {
		return 1
	}
	if err := actAsSpoolOwner(cfg); err != nil {
		fmt.Fprintf(stderr, "vmspop import: %v\n", err)
		return 1
	}
	progress := isTerminal(stderr)
	imp := &importer{sp: spool.New(cfg.Spool), stderr: stderr, progress: progress}
	defer imp.close()
	added, skipped, err := imp.run(context.Background(), user, folder, files)
	if err != nil {
		fmt.Fprintf(stderr, "vmspop import: %v\n", err)
		fmt.Fprintln(stderr, "vmspop import: nothing imported")
		return 1
	}
	fmt.Fprintf(stdout, "%d imported, %d skipped as duplicates (%s %s)\n", added, skipped, user, folder)
	return 0
}

var errHelp = errors.New("help requested")

// parseImportArgs parses USER FILE... with --folder NAME (or --folder=NAME)
// anywhere; "--" ends the options.
func parseImportArgs(args []string) (user string, files []string, folder string, err error) {
	folder = spool.NewMail
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case a == "-h" || a == "--help" || a == "-help":
			return "", nil, "", errHelp
		case a == "--folder" || a == "-folder":
			if i+1 >= len(args) {
				return "", nil, "", errors.New("--folder needs a folder name")
			}
			i++
			folder = args[i]
		case strings.HasPrefix(a, "--folder=") || strings.HasPrefix(a, "-folder="):
			_, folder, _ = strings.Cut(a, "=")
		case strings.HasPrefix(a, "-") && a != "-":
			return "", nil, "", fmt.Errorf("unknown option %s", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) < 2 {
		return "", nil, "", errors.New("need a user and at least one file")
	}
	user, files = pos[0], pos[1:]
	if !spool.ValidName(user) {
		return "", nil, "", fmt.Errorf("invalid user name %q", user)
	}
	if !spool.ValidName(folder) {
		return "", nil, "", fmt.Errorf("invalid folder name %q", folder)
	}
	return strings.ToUpper(user), files, strings.ToUpper(folder), nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// importer holds the open files of one import run.
type importer struct {
	sp       *spool.Spool
	stderr   io.Writer
	progress bool
	open     []*os.File
}

func (imp *importer) close() {
	for _, f := range imp.open {
		f.Close()
	}
}

// run validates every file, then appends all their messages to the folder
// in one atomic update, skipping those already there.
func (imp *importer) run(ctx context.Context, user, folder string, files []string) (added, skipped int, err error) {
	var msgs []spool.KeyedMessage
	var errs []error
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		imp.open = append(imp.open, f)
		fi, err := f.Stat()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var r io.Reader = f
		var bar *progressReader
		if imp.progress && fi.Size() > importProgressMin {
			bar = &progressReader{r: f, w: imp.stderr, name: name, total: fi.Size(), last: -1}
			r = bar
		}
		found, err := mail11.ParseExtract(r, name)
		if bar != nil {
			bar.done()
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(found) == 0 {
			fmt.Fprintf(imp.stderr, "vmspop import: warning: %s: no messages\n", name)
		}
		for _, m := range found {
			key, err := spool.ReaderKey(io.NewSectionReader(f, m.Offset, m.Length))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				break
			}
			msgs = append(msgs, spool.KeyedMessage{
				NewMessage: spool.NewMessage{
					Envelope: importEnvelope(m.From),
					Date:     m.Date,
					Text:     io.NewSectionReader(f, m.Offset, m.Length),
				},
				Key: key,
			})
		}
	}
	if len(errs) > 0 {
		return 0, 0, errors.Join(errs...)
	}
	if len(msgs) == 0 {
		return 0, 0, nil
	}
	added, err = imp.sp.AppendUnique(ctx, user, folder, msgs)
	if err != nil {
		return 0, 0, err
	}
	return added, len(msgs) - added, nil
}

// progressReader draws a progress bar on a terminal as a file is read.
type progressReader struct {
	r     io.Reader
	w     io.Writer
	name  string
	total int64
	n     int64
	last  int
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if pct := int(p.n * 100 / p.total); pct != p.last {
		p.last = pct
		const width = 40
		fill := min(pct, 100) * width / 100
		fmt.Fprintf(p.w, "\rchecking %s [%s%s] %3d%%", p.name,
			strings.Repeat("#", fill), strings.Repeat(".", width-fill), min(pct, 100))
	}
	return n, err
}

func (p *progressReader) done() { fmt.Fprintln(p.w) }

// importEnvelope returns the envelope sender for the From_ line of an
// imported message: the SMTP address of SMTP%"..." (cent signs undone), or
// the MAIL-11 address as it stands (NODE::USER).
func importEnvelope(from string) string {
	if rewrite.IsSMTP(from) {
		addr, _ := (&rewrite.Settings{Hostname: "localhost"}).RewriteFrom(from)
		return addr
	}
	return from
}
