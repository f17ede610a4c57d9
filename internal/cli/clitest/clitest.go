// Package clitest checks that a command tree keeps package cli's conventions: help with an
// example on stdout and exit 0 for every command, usage and a one-line error on stderr and exit
// 2 for unknown flags, unknown commands and unexpected arguments. It is imported only from
// _test.go files.
package clitest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Execute is a program's entry point: args without the program name, the exit code back.
type Execute func(ctx context.Context, args []string, stdout, stderr *bytes.Buffer) int

// Result is what one run printed.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run calls exec with args and fresh buffers.
func Run(exec Execute, args ...string) Result {
	var out, errb bytes.Buffer
	code := exec(context.Background(), args, &out, &errb)
	return Result{Code: code, Stdout: out.String(), Stderr: errb.String()}
}

// Paths lists the path (names below the root) of every available command under root, root
// itself first, then `help`.
func Paths(root *cobra.Command) [][]string {
	paths := [][]string{{}}
	var walk func(c *cobra.Command, prefix []string)
	walk = func(c *cobra.Command, prefix []string) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() {
				continue
			}
			p := append(append([]string{}, prefix...), sub.Name())
			paths = append(paths, p)
			walk(sub, p)
		}
	}
	walk(root, nil)
	return append(paths, []string{"help"})
}

// find returns the command at path under root.
func find(t *testing.T, root *cobra.Command, path []string) *cobra.Command {
	t.Helper()
	c, rest, err := root.Find(path)
	if err != nil || len(rest) > 0 {
		t.Fatalf("%v: not a command (%v, rest %v)", path, err, rest)
	}
	return c
}

// LastLine is the last line of s.
func LastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// Conventions checks every command of the tree that newRoot builds (a fresh one per call:
// cobra keeps parsed flag values in the tree) with exec, which must run that same tree.
func Conventions(t *testing.T, newRoot func() *cobra.Command, exec Execute) {
	prog := newRoot().Name()
	for _, path := range Paths(newRoot()) {
		name := strings.Join(append([]string{prog}, path...), " ")
		t.Run(name, func(t *testing.T) {
			for _, help := range []string{"--help", "-h"} {
				r := Run(exec, append(append([]string{}, path...), help)...)
				if r.Code != 0 || r.Stderr != "" {
					t.Errorf("%s %s: exit %d, stderr %q", name, help, r.Code, r.Stderr)
				}
				if !strings.Contains(r.Stdout, "Usage:\n") || !strings.Contains(r.Stdout, "Examples:\n  ") {
					t.Errorf("%s %s: help without usage or an example:\n%s", name, help, r.Stdout)
				}
			}
			if len(path) > 0 && path[0] != "help" {
				r := Run(exec, append([]string{"help"}, path...)...)
				if r.Code != 0 || !strings.Contains(r.Stdout, "Examples:\n  ") {
					t.Errorf("%s help %v: exit %d, output:\n%s", prog, path, r.Code, r.Stdout)
				}
			}

			r := Run(exec, append(append([]string{}, path...), "--no-such-flag")...)
			usageError(t, r, name+" --no-such-flag", prog+": unknown flag: --no-such-flag")
			if !strings.Contains(r.Stderr, "Usage:\n  "+name) {
				t.Errorf("%s --no-such-flag: the usage printed is not this command's:\n%s", name, r.Stderr)
			}

			if len(path) > 0 && path[0] == "help" {
				return
			}
			cmd := find(t, newRoot(), path)
			r = Run(exec, append(append([]string{}, path...), "no-such-thing")...)
			want := prog + `: unexpected argument "no-such-thing": ` + name + " takes no arguments"
			if cmd.HasAvailableSubCommands() {
				want = prog + `: unknown command "no-such-thing" for "` + name + `"`
			}
			usageError(t, r, name+" no-such-thing", want)
		})
	}
}

func usageError(t *testing.T, r Result, what, wantLast string) {
	t.Helper()
	if r.Code != 2 {
		t.Errorf("%s: exit %d, want 2", what, r.Code)
	}
	if r.Stdout != "" {
		t.Errorf("%s: wrote to stdout: %q", what, r.Stdout)
	}
	if got := LastLine(r.Stderr); got != wantLast {
		t.Errorf("%s: last line of stderr\n got %q\nwant %q", what, got, wantLast)
	}
	if !strings.HasPrefix(r.Stderr, "Usage:\n") {
		t.Errorf("%s: stderr does not start with the usage:\n%s", what, r.Stderr)
	}
}
