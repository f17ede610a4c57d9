package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gatehouse-mcp/gatehouse/internal/cli"
	"github.com/gatehouse-mcp/gatehouse/internal/cli/clitest"
)

// toy is a small tree with every shape the programs use: a group root, a nested group, and
// leaves that succeed or fail with one-line and multi-line errors.
func toy() *cobra.Command {
	var fail string
	leaf := &cobra.Command{
		Use:     "run",
		Short:   "Run it",
		Example: "  toy run --fail once",
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch fail {
			case "once":
				return errors.New("it broke; try again")
			case "many":
				return fmt.Errorf("toy.yaml: %w", errors.Join(errors.New("a: required"), errors.New("b: too big"),
					errors.New("  c: already indented")))
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ran")
			return nil
		},
	}
	leaf.Flags().StringVar(&fail, "fail", "", "once or many")
	return cli.Group(&cobra.Command{Use: "toy", Short: "A toy", Example: "  toy run"},
		leaf,
		cli.Group(&cobra.Command{Use: "thing", Short: "Things", Example: "  toy thing list"},
			&cobra.Command{Use: "list", Short: "List things", Example: "  toy thing list",
				RunE: func(*cobra.Command, []string) error { return nil }}))
}

func execToy(ctx context.Context, args []string, stdout, stderr *bytes.Buffer) int {
	return cli.Run(ctx, toy(), args, stdout, stderr)
}

func TestConventions(t *testing.T) { clitest.Conventions(t, toy, execToy) }

func TestExitCodesAndMessages(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string
		stderr   string // exact, or for usage errors the last line
		hasUsage bool
	}{
		{args: []string{"run"}, code: 0, stdout: "ran\n"},
		{args: []string{"run", "--fail", "once"}, code: 1, stderr: "toy: it broke; try again\n"},
		{args: []string{"run", "--fail", "many"}, code: 1,
			stderr: "toy: toy.yaml: a: required\n  b: too big\n  c: already indented\n"},
		{args: []string{}, code: 2, hasUsage: true, stderr: "toy: no command given; the commands are run, thing"},
		{args: []string{"thing"}, code: 2, hasUsage: true, stderr: `toy: "toy thing" needs a command: list`},
		{args: []string{"rnu"}, code: 2, hasUsage: true, stderr: `toy: unknown command "rnu" for "toy"; did you mean "run"?`},
		{args: []string{"thing", "lst"}, code: 2, hasUsage: true, stderr: `toy: unknown command "lst" for "toy thing"; did you mean "list"?`},
		{args: []string{"help", "thing", "lst"}, code: 2, hasUsage: true, stderr: `toy: unknown command "lst" for "toy thing"; did you mean "list"?`},
		{args: []string{"run", "--fail"}, code: 2, hasUsage: true, stderr: "toy: flag needs an argument: --fail"},
		{args: []string{"run", "extra"}, code: 2, hasUsage: true, stderr: `toy: unexpected argument "extra": toy run takes no arguments`},
	} {
		r := clitest.Run(execToy, tc.args...)
		if r.Code != tc.code || r.Stdout != tc.stdout {
			t.Errorf("%v: exit %d, stdout %q; want %d, %q", tc.args, r.Code, r.Stdout, tc.code, tc.stdout)
		}
		if tc.hasUsage {
			if !strings.HasPrefix(r.Stderr, "Usage:\n") || clitest.LastLine(r.Stderr) != tc.stderr {
				t.Errorf("%v: stderr\n%s\nwant the usage, then %q", tc.args, r.Stderr, tc.stderr)
			}
		} else if r.Stderr != tc.stderr {
			t.Errorf("%v: stderr %q, want %q", tc.args, r.Stderr, tc.stderr)
		}
	}
}

// Run never falls back to os.Args (cobra does when given nil).
func TestNilArgs(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cli.Run(context.Background(), toy(), nil, &out, &errb); code != 2 ||
		clitest.LastLine(errb.String()) != "toy: no command given; the commands are run, thing" {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
}

func TestMessage(t *testing.T) {
	for _, tc := range []struct{ err, want string }{
		{"one line", "p: one line"},
		{"trailing newline\n", "p: trailing newline"},
		{"first\nsecond\n\tthird\n\nfifth", "p: first\n  second\n\tthird\n\n  fifth"},
	} {
		if got := cli.Message("p", errors.New(tc.err)); got != tc.want {
			t.Errorf("Message(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
