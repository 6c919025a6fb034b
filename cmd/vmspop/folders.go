package main

// The "vmspop folders" subcommand: MAIL's DIRECTORY/FOLDER, with message
// counts and sizes.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vmspop/vmspop/spool"
)

const foldersUsage = "usage: vmspop folders USER\n"

// runFolders runs "vmspop folders USER": it lists the user's folders with
// their message counts and sizes. It returns 0 on success, 1 on failure
// (no such user directory, an unreadable folder) and 2 on a usage error.
func runFolders(args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, foldersUsage)
		return 0
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, foldersUsage)
		return 2
	}
	user := args[0]
	if !spool.ValidName(user) {
		fmt.Fprintf(stderr, "vmspop folders: invalid user name %q\n", user)
		return 1
	}
	user = strings.ToUpper(user)
	cfg, ok := loadToolConfig("folders", env, stderr)
	if !ok {
		return 1
	}
	if err := actAsSpoolOwner(cfg); err != nil {
		fmt.Fprintf(stderr, "vmspop folders: %v\n", err)
		return 1
	}
	sp := spool.New(cfg.Spool)
	list, err := sp.Folders(context.Background(), user)
	if errors.Is(err, spool.ErrNoMailbox) {
		dir, _ := sp.UserDir(user)
		fmt.Fprintf(stderr, "vmspop folders: user %s has no mail directory (%s)\n", user, dir)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmspop folders: %s: %v\n", user, err)
		return 1
	}
	writeFolders(stdout, user, list)
	return 0
}

// writeFolders prints the folder list as a table with a total line.
func writeFolders(w io.Writer, user string, list []spool.FolderInfo) {
	fmt.Fprintf(w, "Listing of folders of %s\n\n", user)
	fmt.Fprintf(w, "%-31s %9s %12s %8s\n", "Folder", "Messages", "Bytes", "Blocks")
	var msgs int
	var size int64
	for _, f := range list {
		fmt.Fprintf(w, "%-31s %9d %12d %8d\n", f.Name, f.Messages, f.Bytes, blocks(f.Bytes))
		msgs += f.Messages
		size += f.Bytes
	}
	fmt.Fprintf(w, "%-31s %9d %12d %8d\n", fmt.Sprintf("Total of %d folder(s)", len(list)), msgs, size, blocks(size))
}

// blocks returns a size in 512-byte disk blocks, as VMS shows sizes.
func blocks(n int64) int64 { return (n + 511) / 512 }
