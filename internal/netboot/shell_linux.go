package netboot

import (
	"os"
	"os/exec"
	"time"
)

// keepShell runs the shell at path as init's child on the console, and starts it again
// whenever it ends (at most runs times; 0 = for ever), waiting 1 s, then twice as long
// after each quick end up to a minute, so a console at EOF does not spin. Init used to
// replace itself with the shell: its exit (EOF on the console, "exit") killed pid 1,
// and the kernel's panic rebooted the machine.
func keepShell(path string, runs int, sleep func(time.Duration)) {
	wait := time.Second
	for n := 1; runs == 0 || n <= runs; n++ {
		sh := exec.Command(path)
		sh.Stdin, sh.Stdout, sh.Stderr = os.Stdin, os.Stdout, os.Stdout
		sh.Env = os.Environ()
		t0 := time.Now()
		err := sh.Run()
		if time.Since(t0) > time.Minute {
			wait = time.Second
		}
		if runs != 0 && n == runs {
			return
		}
		logf("discus.then=shell: the shell ended (%v); another in %v (the disk is written; power off or reset the machine when done)", err, wait)
		sleep(wait)
		wait = min(2*wait, time.Minute)
	}
}
