// Package archtest holds the test of the import rules between the packages
// of vmspop (imports_test.go). It has no code.
package archtest
