package main

import "github.com/discuscast/discus/internal/cli"

// human formats a byte count.
func human(n int64) string { return cli.HumanBytes(n) }
