package main

import "os"

func main() {
	os.Exit(runLoad(os.Args[1:], os.Stdout, os.Stderr))
}
