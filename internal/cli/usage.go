package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// ErrUsage marks a command-line mistake (exit code 2) for callers that wrap
// it with %w rather than build a UsageError.
var ErrUsage = errors.New("usage")

// SetUsage makes fs's --help print synopsis, the flags spelled --flag (the
// flag package prints -flag; both are accepted), the exit-code table, and
// nothing Go-specific.
func SetUsage(fs *flag.FlagSet, synopsis string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, strings.TrimRight(synopsis, "\n")+"\n\nFlags:\n")
		PrintFlags(w, fs)
		fmt.Fprint(w, "\n"+ExitCodesHelp)
	}
}

// FlagName spells a flag as --help shows it: -v for one letter, --name else.
func FlagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// PrintFlags lists fs's flags like flag.PrintDefaults, but as --name.
func PrintFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if p, ok := placeholders[arg]; ok {
			arg = p
		}
		line := "  " + FlagName(f.Name)
		if arg != "" {
			line += " " + arg
		}
		if def := defaultText(f); def != "" {
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

// placeholders renames the flag package's type names (shown when a usage
// has no `NAME` of its own) as a man page would write them.
var placeholders = map[string]string{"": "", "string": "VALUE", "int": "N", "uint": "N", "int64": "N",
	"uint64": "N", "float": "N", "duration": "DURATION", "value": "VALUE"}

// defaultText is the "(default ...)" part, empty when the default is the
// type's zero value, as the flag package does it.
func defaultText(f *flag.Flag) string {
	t := reflect.TypeOf(f.Value)
	var zero string
	if t.Kind() == reflect.Pointer {
		zero = reflect.New(t.Elem()).Interface().(flag.Value).String()
	}
	if f.DefValue == zero || f.DefValue == "" || f.DefValue == "0" { // "0" seconds: the usage says what 0 means
		return ""
	}
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.String {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// Parse parses args into fs, adding --version. ok is false when the command
// is to end at once with code: after --help (usage on stdout, 0), --version
// (stdout, 0) or a bad flag (one line and a hint on stderr, 2).
func Parse(fs *flag.FlagSet, name string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	var version bool
	if fs.Lookup("version") == nil {
		fs.BoolVar(&version, "version", false, "print the release, protocol and image format versions and exit")
	}
	var msg strings.Builder
	fs.SetOutput(&msg)
	usage := fs.Usage
	fs.Usage = func() {} // a bad flag gets one line, not the whole list
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return ExitOK, false
	case err != nil:
		fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", name, plainFlagError(err), name)
		return ExitUsage, false
	case version:
		fmt.Fprint(stdout, Version(name))
		return ExitOK, false
	}
	fs.SetOutput(stderr)
	return 0, true
}

// plainFlagError rewrites the flag package's "-name" spelling as "--name".
func plainFlagError(err error) string {
	s := err.Error()
	for _, p := range []string{"flag provided but not defined: -", "flag needs an argument: -"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return strings.TrimSuffix(p, "-") + FlagName(rest)
		}
	}
	if rest, ok := strings.CutPrefix(s, "invalid value "); ok {
		// invalid value "x" for flag -name: reason
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			tail := rest[i+len(" for flag -"):]
			name, reason, _ := strings.Cut(tail, ": ")
			return fmt.Sprintf("%s: invalid value %s: %s", FlagName(name), rest[:i], reason)
		}
	}
	return s
}
