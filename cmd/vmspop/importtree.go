package main

// "vmspop import --tree DIR": imports a whole export, DIR/USER/FOLDER.TXT
// EXTRACT files as dist/vms/VMSPOP_EXPORT.COM writes them, every user and
// folder, several users at a time.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmspop/vmspop/mail11"
	"github.com/vmspop/vmspop/spool"
)

const importTreeUsage = `usage: vmspop import --tree DIR [--jobs N]

Imports a whole export: DIR holds one directory per user, each holding one
EXTRACT/ALL file per folder named FOLDER.TXT (NEWMAIL.TXT, MAIL.TXT, ...).
Users are imported N at a time (default: the number of CPUs). Each folder
is appended in one atomic update, skipping messages already there, so a
second run adds nothing and a run that was killed can simply be run again.
A folder file with a malformed message is refused whole and reported.
The files the export procedure writes beside the user directories
(ACCOUNTS.TXT, SYSUAF.LIS, VMSPOP_EXPORT.LOG) are left alone.
`

// isTreeImport reports whether the import arguments ask for --tree.
func isTreeImport(args []string) bool {
	for _, a := range args {
		if a == "--tree" || strings.HasPrefix(a, "--tree=") {
			return true
		}
		if a == "--" {
			return false
		}
	}
	return false
}

func runImportTree(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	var root string
	jobs := runtime.GOMAXPROCS(0)
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		switch name {
		case "-h", "--help":
			fmt.Fprint(stdout, importTreeUsage)
			return 0
		case "--tree", "--jobs":
			if !hasVal {
				if i+1 >= len(args) {
					fmt.Fprintf(stderr, "vmspop import: %s needs a value\n%s", name, importTreeUsage)
					return 2
				}
				i++
				val = args[i]
			}
			if name == "--tree" {
				root = val
				continue
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 256 {
				fmt.Fprintf(stderr, "vmspop import: --jobs %q: want 1 to 256\n", val)
				return 2
			}
			jobs = n
		default:
			fmt.Fprintf(stderr, "vmspop import: unknown argument %q with --tree\n%s", args[i], importTreeUsage)
			return 2
		}
	}
	cfg, ok := loadToolConfig("import", env, stderr)
	if !ok {
		return 1
	}
	if err := actAsSpoolOwner(cfg); err != nil {
		fmt.Fprintf(stderr, "vmspop import: %v\n", err)
		return 1
	}
	plan, refused, err := planTree(root)
	if err != nil {
		fmt.Fprintf(stderr, "vmspop import: %v\n", err)
		return 1
	}
	t := &treeImport{sp: spool.New(cfg.Spool), plan: plan, jobs: jobs}
	for _, p := range plan {
		for _, f := range p.folders {
			t.total += f.size
		}
	}
	prog := newTreeProgress(t, stderr, isTerminal(stderr))
	prog.start()
	t.run(context.Background(), prog)
	prog.stop()
	return t.report(stdout, refused)
}

// treeUser is one user of an export and the folder files found for it.
type treeUser struct {
	name    string
	folders []treeFolder
	// Results, set by the worker.
	messages, added, skipped int
	refused                  []string
}

type treeFolder struct {
	name string // upper case
	path string
	size int64
}

// exportFiles are the files dist/vms/VMSPOP_EXPORT.COM writes beside the
// user directories (upper case): not mail, and not refused.
var exportFiles = []string{"ACCOUNTS.TXT", "SYSUAF.LIS", "VMSPOP_EXPORT.LOG"}

// isExportFile reports whether name, a file at the top of an export, is one
// of exportFiles (in either case, with or without a VMS version ";n").
func isExportFile(name string) bool {
	base, _, _ := strings.Cut(strings.ToUpper(name), ";")
	return slices.Contains(exportFiles, base)
}

// planTree lists DIR/USER/FOLDER.TXT; anything else is refused (returned
// as problems) and left alone, but for the export procedure's own files.
func planTree(root string) ([]*treeUser, []string, error) {
	if root == "" {
		return nil, nil, errors.New("--tree needs a directory")
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, nil, err
	}
	var plan []*treeUser
	var refused []string
	seen := map[string]string{}
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		if !e.IsDir() && e.Type().IsRegular() && isExportFile(e.Name()) {
			continue
		}
		if !e.IsDir() {
			refused = append(refused, p+": not a user directory")
			continue
		}
		if !spool.ValidName(e.Name()) {
			refused = append(refused, p+": not a valid VMS user name")
			continue
		}
		user := strings.ToUpper(e.Name())
		if other, ok := seen[user]; ok {
			refused = append(refused, fmt.Sprintf("%s: same user as %s", p, other))
			continue
		}
		seen[user] = p
		u := &treeUser{name: user}
		files, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, err
		}
		folders := map[string]bool{}
		for _, f := range files {
			fp := filepath.Join(p, f.Name())
			base, ext := strings.TrimSuffix(f.Name(), filepath.Ext(f.Name())), filepath.Ext(f.Name())
			switch {
			case !f.Type().IsRegular():
				refused = append(refused, fp+": not a regular file")
			case !strings.EqualFold(ext, ".TXT"):
				refused = append(refused, fp+": not a FOLDER.TXT file")
			case !spool.ValidName(base):
				refused = append(refused, fp+": not a valid folder name")
			case folders[strings.ToUpper(base)]:
				refused = append(refused, fp+": folder "+strings.ToUpper(base)+" listed twice")
			default:
				fi, err := f.Info()
				if err != nil {
					return nil, nil, err
				}
				folders[strings.ToUpper(base)] = true
				u.folders = append(u.folders, treeFolder{name: strings.ToUpper(base), path: fp, size: fi.Size()})
			}
		}
		slices.SortFunc(u.folders, func(a, b treeFolder) int { return strings.Compare(a.name, b.name) })
		plan = append(plan, u)
	}
	slices.SortFunc(plan, func(a, b *treeUser) int { return strings.Compare(a.name, b.name) })
	return plan, refused, nil
}

// treeImport is one run of import --tree.
type treeImport struct {
	sp    *spool.Spool
	plan  []*treeUser
	jobs  int
	total int64 // bytes of all folder files

	done      atomic.Int64 // bytes: half for reading a file, half for appending it
	msgs      atomic.Int64 // messages imported or found already there
	usersDone atomic.Int64
}

func (t *treeImport) run(ctx context.Context, prog *treeProgress) {
	work := make(chan *treeUser)
	var wg sync.WaitGroup
	for range min(t.jobs, max(len(t.plan), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				for _, f := range u.folders {
					t.importFolder(ctx, u, f)
				}
				t.usersDone.Add(1)
				prog.userDone(u)
			}
		}()
	}
	for _, u := range t.plan {
		work <- u
	}
	close(work)
	wg.Wait()
}

// importFolder checks one folder file and appends its messages in one
// atomic update.
func (t *treeImport) importFolder(ctx context.Context, u *treeUser, f treeFolder) {
	counted := int64(0) // bytes of this file counted in t.done
	defer func() { t.done.Add(2*f.size - counted) }()
	file, err := os.Open(f.path)
	if err != nil {
		u.refused = append(u.refused, err.Error())
		return
	}
	defer file.Close()
	cr := &progressCounter{r: file, n: &t.done}
	found, err := mail11.ParseExtract(cr, f.path)
	counted += cr.total
	if err != nil {
		u.refused = append(u.refused, fmt.Sprintf("%s refused, nothing imported from it:\n%v", f.path, err))
		return
	}
	msgs := make([]spool.KeyedMessage, 0, len(found))
	var copied int64
	for _, m := range found {
		key, err := spool.ReaderKey(io.NewSectionReader(file, m.Offset, m.Length))
		if err != nil {
			u.refused = append(u.refused, fmt.Sprintf("%s: %v", f.path, err))
			return
		}
		msgs = append(msgs, spool.KeyedMessage{
			NewMessage: spool.NewMessage{
				Envelope: importEnvelope(m.From),
				Date:     m.Date,
				Text:     &progressCounter{r: io.NewSectionReader(file, m.Offset, m.Length), n: &t.done, sum: &copied},
			},
			Key: key,
		})
	}
	u.messages += len(found)
	if len(msgs) == 0 {
		return
	}
	added, err := t.sp.AppendUnique(ctx, u.name, f.name, msgs)
	counted += copied
	if err != nil {
		u.refused = append(u.refused, fmt.Sprintf("%s: %v", f.path, err))
		return
	}
	u.added += added
	u.skipped += len(msgs) - added
	t.msgs.Add(int64(len(msgs)))
}

// progressCounter adds the bytes read to n (and to sum, if set).
type progressCounter struct {
	r     io.Reader
	n     *atomic.Int64
	sum   *int64
	total int64
}

func (c *progressCounter) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n.Add(int64(k))
	c.total += int64(k)
	if c.sum != nil {
		*c.sum += int64(k)
	}
	return k, err
}

// report writes the per-user table and what was refused; 1 if anything was.
func (t *treeImport) report(w io.Writer, refused []string) int {
	fmt.Fprintf(w, "%-12s %7s %9s %9s %9s %7s\n", "User", "Folders", "Messages", "Imported", "Skipped", "Refused")
	var folders, messages, added, skipped, bad int
	for _, u := range t.plan {
		fmt.Fprintf(w, "%-12s %7d %9d %9d %9d %7d\n", u.name, len(u.folders), u.messages, u.added, u.skipped, len(u.refused))
		folders += len(u.folders)
		messages += u.messages
		added += u.added
		skipped += u.skipped
		bad += len(u.refused)
		refused = append(refused, u.refused...)
	}
	fmt.Fprintf(w, "%-12s %7d %9d %9d %9d %7d\n", fmt.Sprintf("Total %d", len(t.plan)), folders, messages, added, skipped, bad)
	if len(refused) == 0 {
		return 0
	}
	fmt.Fprintf(w, "\nRefused (%d):\n", len(refused))
	for _, r := range refused {
		fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(r, "\n", "\n    "))
	}
	return 1
}

// treeProgress shows the progress of the whole job: a bar redrawn in
// place on a terminal, else one line per finished user.
type treeProgress struct {
	t     *treeImport
	w     io.Writer
	tty   bool
	begin time.Time
	mu    sync.Mutex // serializes writes to w
	quit  chan struct{}
	wg    sync.WaitGroup
}

func newTreeProgress(t *treeImport, w io.Writer, tty bool) *treeProgress {
	return &treeProgress{t: t, w: w, tty: tty, begin: time.Now(), quit: make(chan struct{})}
}

func (p *treeProgress) start() {
	if !p.tty {
		fmt.Fprintf(p.w, "import: %d users, %d folder files, %s\n", len(p.t.plan), p.folderCount(), mb(p.t.total))
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			p.draw()
			select {
			case <-p.quit:
				return
			case <-tick.C:
			}
		}
	}()
}

func (p *treeProgress) folderCount() int {
	n := 0
	for _, u := range p.t.plan {
		n += len(u.folders)
	}
	return n
}

// status is the one-line state of the job.
func (p *treeProgress) status() (pct int, line string) {
	total := 2 * p.t.total
	done := min(p.t.done.Load(), total)
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	eta := "--:--"
	if el := time.Since(p.begin); frac > 0.01 && frac < 1 {
		eta = fmtDuration(time.Duration(float64(el) * (1 - frac) / frac))
	} else if frac >= 1 {
		eta = "0:00"
	}
	pct = int(frac * 100)
	return pct, fmt.Sprintf("%3d%%  %s / %s  %d messages  %d/%d users  ETA %s",
		pct, mb(done/2), mb(p.t.total), p.t.msgs.Load(), p.t.usersDone.Load(), len(p.t.plan), eta)
}

func (p *treeProgress) draw() {
	pct, line := p.status()
	const width = 30
	fill := pct * width / 100
	p.mu.Lock()
	fmt.Fprintf(p.w, "\r[%s%s] %s\x1b[K", strings.Repeat("#", fill), strings.Repeat(".", width-fill), line)
	p.mu.Unlock()
}

func (p *treeProgress) userDone(u *treeUser) {
	if p.tty {
		return
	}
	_, line := p.status()
	p.mu.Lock()
	fmt.Fprintf(p.w, "import: %s done (%d messages, %d imported) %s\n", u.name, u.messages, u.added, line)
	p.mu.Unlock()
}

func (p *treeProgress) stop() {
	if !p.tty {
		return
	}
	close(p.quit)
	p.wg.Wait()
	p.draw()
	fmt.Fprintln(p.w)
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func fmtDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
