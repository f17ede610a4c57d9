// Package cli is what Gatehouse's two programs, `gatehouse` (production, internal/cli/gatehouse)
// and `gatehouse-dev` (development, internal/cli/gatehousedev), share: how a cobra command tree
// runs, and the conventions every command keeps.
//
// Exit codes: 0 for success and for --help, -h and `help <command>`; 1 for a runtime error;
// 2 for a usage error (unknown flag, bad flag value, unknown command, missing command,
// unexpected positional argument).
//
// Output: help goes to stdout. A usage error prints the usage of the command it concerns and
// then one line, `<program>: <error>`, to stderr. A runtime error prints `<program>: <error>`
// to stderr and nothing else; commands put their hint into that same line ("...; start it with:
// go run ./cmd/gatehouse-dev"). Some errors are reports with one problem per line: the config
// loader validates every field and joins all the problems it finds (errors.Join), and OPA's
// compiler lists every compile error. Those stay multi-line, so that each problem can be read
// and fixed: the first line starts with the program name and the following lines are indented
// by two spaces (lines that are already indented keep their own indentation), so the report
// still reads as one message.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// groupAnnotation marks a command that only holds subcommands (see Group).
const groupAnnotation = "gatehouse.cli/group"

// UsageError is an error in how a command was called. Run prints the usage of Cmd with it
// and exits 2.
type UsageError struct {
	Cmd *cobra.Command
	Err error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError about cmd.
func Usagef(cmd *cobra.Command, format string, args ...any) error {
	return &UsageError{Cmd: cmd, Err: fmt.Errorf(format, args...)}
}

// NoArgs is the positional-argument check of every Gatehouse command (none takes any): an
// argument to a command with subcommands is an unknown command, with cobra's suggestion when
// it has one; an argument to any other command is unexpected.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasAvailableSubCommands() {
		return unknownCommand(cmd, args[0])
	}
	return Usagef(cmd, "unexpected argument %q: %s takes no arguments", args[0], cmd.CommandPath())
}

func unknownCommand(cmd *cobra.Command, name string) error {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	switch s := cmd.SuggestionsFor(name); len(s) {
	case 0:
	case 1:
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	default:
		msg += fmt.Sprintf("; did you mean one of %s?", strings.Join(s, ", "))
	}
	return &UsageError{Cmd: cmd, Err: errors.New(msg)}
}

// Group makes cmd a command that only holds subcommands: called alone it is a usage error
// that names them, called with an unknown one it suggests the closest.
func Group(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subs...)
	cmd.Args = NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if !c.HasParent() {
			return Usagef(c, "no command given; the commands are %s", strings.Join(subcommandNames(c), ", "))
		}
		return Usagef(c, "%q needs a command: %s", c.CommandPath(), strings.Join(subcommandNames(c), ", "))
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[groupAnnotation] = "true"
	return cmd
}

func isGroup(cmd *cobra.Command) bool { return cmd.Annotations[groupAnnotation] == "true" }

func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	sort.Strings(names)
	return names
}

// Run executes the command tree under root with args (never os.Args) and returns the exit
// code. The program name in messages is root's name.
func Run(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	prepare(root)
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	_, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	prog := root.Name()
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprint(stderr, ue.Cmd.UsageString())
		fmt.Fprintf(stderr, "\n%s\n", Message(prog, ue.Err))
		return 2
	}
	fmt.Fprintln(stderr, Message(prog, err))
	return 1
}

// Message is how Run prints err: `<prog>: <error>`, continuation lines of a multi-line error
// indented by two spaces.
func Message(prog string, err error) string {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" && !strings.HasPrefix(lines[i], " ") && !strings.HasPrefix(lines[i], "\t") {
			lines[i] = "  " + lines[i]
		}
	}
	return prog + ": " + strings.Join(lines, "\n")
}

// prepare applies the conventions to every command of the tree: errors and usage are printed
// by Run (not by cobra), flag errors and positional arguments are usage errors, the usage text
// is Gatehouse's, and `help` has an example like every other command.
func prepare(root *cobra.Command) {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &UsageError{Cmd: c, Err: err} })
	root.SetUsageFunc(usage)
	root.SetHelpCommand(helpCommand(root))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Args == nil {
			c.Args = NoArgs
		}
		c.SuggestionsMinimumDistance = 2
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func helpCommand(root *cobra.Command) *cobra.Command {
	example := "  " + root.Name() + " help"
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			example += "\n  " + root.Name() + " help " + c.Name()
			break
		}
	}
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil {
				return &UsageError{Cmd: c, Err: err}
			}
			for _, a := range rest {
				if !strings.HasPrefix(a, "-") {
					return unknownCommand(target, a)
				}
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
	}
}

// usage writes the usage text of c: how to call it, its examples, its subcommands and flags.
func usage(c *cobra.Command) error {
	var b strings.Builder
	b.WriteString("Usage:\n")
	if c.Runnable() && !isGroup(c) {
		fmt.Fprintf(&b, "  %s\n", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "  %s <command>\n", c.CommandPath())
	}
	if c.HasExample() {
		fmt.Fprintf(&b, "\nExamples:\n%s\n", strings.TrimRight(c.Example, "\n"))
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\nCommands:\n")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(&b, "  %-*s  %s\n", sub.NamePadding(), sub.Name(), sub.Short)
			}
		}
	}
	if c.HasAvailableLocalFlags() {
		fmt.Fprintf(&b, "\nFlags:\n%s\n", strings.TrimRight(c.LocalFlags().FlagUsagesWrapped(100), "\n"))
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(&b, "\nGlobal flags:\n%s\n", strings.TrimRight(c.InheritedFlags().FlagUsagesWrapped(100), "\n"))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\nUse \"%s <command> --help\" for more about a command.\n", c.CommandPath())
	}
	_, err := io.WriteString(c.OutOrStderr(), b.String())
	return err
}
