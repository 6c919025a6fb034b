// Command vmspop is a POP3 gateway that serves OpenVMS-style mail spools
// (NEWMAIL, MAIL, WASTEBASKET folders of MAIL-11 messages) to PC mail
// clients, as the TCP/IP Services for OpenVMS POP server did.
//
// The load tool (make bench) is a separate command, vmspop-load.
//
// Usage:
//
//	vmspop serve [--startup FILE]     run the server (TCPIP$POP_* logicals)
//	vmspop logicals [--startup FILE]  show the effective settings
//	vmspop check [--startup FILE]     every problem that would stop serve
//	vmspop uaf add|modify|show|list|remove|import ...   the accounts file
//	vmspop deliver [-f SENDER] USER...   local delivery agent (stdin)
//	vmspop rpop add|list|poll|run ...   remote POP3 accounts (docs/rpop.md)
//	vmspop import USER FILE...        import VMS MAIL EXTRACT files
//	vmspop folders USER               list a user's folders
//	vmspop purge USER|--all [--older-than DAYS]  empty WASTEBASKET
//	vmspop trace [FILE...]            search trace logs
//	vmspop who | kick USER            live sessions; close a user's (admin socket)
//	vmspop ticketkeys rotate [FILE]   TLS session ticket keys shared by instances
//	vmspop version
package main

import (
	"fmt"
	"io"
	"os"

	_ "github.com/emersion/go-message/charset" // decode any charset in RFC 822 headers
)

// Version is the version shown in greetings and X-POP3-Server.
const Version = "V0.1"

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, env func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	rest := args[1:]
	switch args[0] {
	case "serve":
		return runServe(rest, env, stdout, stderr)
	case "logicals":
		return runLogicals(rest, env, stdout, stderr)
	case "check":
		return runCheck(rest, env, stdout, stderr)
	case "uaf":
		return runUAF(rest, env, stdin, stdout, stderr)
	case "deliver":
		return runDeliver(rest, env, stdin, stdout, stderr)
	case "rpop":
		return runRPOP(rest, env, stdin, stdout, stderr)
	case "import":
		return runImport(rest, env, stdin, stdout, stderr)
	case "migrate":
		return runMigrate(rest, env, stdout, stderr)
	case "folders":
		return runFolders(rest, env, stdin, stdout, stderr)
	case "purge":
		return runPurge(rest, env, stdout, stderr)
	case "alert":
		return runAlert(rest, env, stdout, stderr)
	case "trace":
		return runTrace(rest, stdin, stdout, stderr)
	case "who":
		return runWho(rest, env, stdout, stderr)
	case "kick":
		return runKick(rest, env, stdout, stderr)
	case "ticketkeys":
		return runTicketKeys(rest, env, stdout, stderr)
	case "version", "--version":
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "vmspop: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: vmspop COMMAND [ARGS]
  serve [--startup FILE]        run the POP3 server (configured by TCPIP$POP_* variables)
  logicals [--startup FILE]     show the effective TCPIP$POP_* settings
  check [--startup FILE]        report every problem that would stop serve (exit 0: it would start)
  uaf add|modify|show|list|remove USER ...   manage the accounts file (TCPIP$POP_UAF)
  uaf import FILE [--dry-run]   accounts from VMS: the export or AUTHORIZE LIST/FULL
  deliver [-f SENDER] USER...   append the RFC 5322 message on stdin to each user's NEWMAIL
  rpop add|modify|remove|list|show|poll|run ...   poll remote POP3 accounts into NEWMAIL (docs/rpop.md)
  import USER FILE... [--folder NAME]   import VMS MAIL EXTRACT/ALL files
  import --tree DIR [--jobs N]  import a whole export (DIR/USER/FOLDER.TXT), in parallel
  migrate uidl --from HOST:PORT --accounts FILE   keep the UIDLs of the old POP server
  folders USER                  list a user's folders, messages and sizes
  purge USER|--all [--older-than DAYS]   empty WASTEBASKET (PURGE/RECLAIM)
  alert [--as-mail] USER TEXT   refuse USER's next login with "-ERR ALERT: TEXT" (or mail it)
  trace [--session ID] [--user U] [--failed] [--summary] [FILE...]   search trace logs
  who | kick USER               list live sessions; close a user's sessions (TCPIP$POP_ADMIN_SOCKET)
  ticketkeys rotate [--keep N] [FILE]   a new TLS session ticket key (TCPIP$POP_TLS_TICKET_KEYS)
  version                       print the version
`)
}
