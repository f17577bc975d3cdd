// Command report turns the benchmark's CSVs into the Markdown tables of
// bench/RESULTS*.md and the data files bench/plot.gp draws.
//
//	report -results bench/results -mode full -dat bench/out/full > bench/results/RESULTS-full.md
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// run is one row of <mode>-runs.csv.
type run struct {
	wl                   string
	mib, n, mtu          int
	loss                 float64
	sys, target          string
	wall                 float64
	ok, total            int
	wire, pkts           float64
	sendCPU, recvCPU, ld float64
	note                 string
}

func (r run) key() string {
	return fmt.Sprintf("%s/%d/%d/%d/%g/%s", r.wl, r.mib, r.n, r.mtu, r.loss, r.target)
}

func (r run) sweep() bool { return strings.HasPrefix(r.note, "sweep") }

func (r run) valid() bool { return r.ok == r.total && r.total > 0 }

func num(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if len(rows) > 0 {
		rows = rows[1:]
	}
	return rows, err
}

func loadRuns(path string) ([]run, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	var rs []run
	for _, c := range rows {
		if len(c) < 16 {
			continue
		}
		rs = append(rs, run{wl: c[0], mib: int(num(c[1])), sys: c[2], n: int(num(c[3])), mtu: int(num(c[4])),
			loss: num(c[5]), target: c[6], wall: num(c[7]), ok: int(num(c[8])), total: int(num(c[9])),
			wire: num(c[10]), pkts: num(c[11]), sendCPU: num(c[12]), recvCPU: num(c[13]), ld: num(c[14]),
			note: strings.Join(c[15:], ",")})
	}
	return rs, nil
}

type report struct {
	runs []run
	ceil [][]string
	w    io.Writer
}

// find returns the first non-sweep run matching sys and the key of like, with mtu.
func (p *report) find(sys string, like run, mtu int) (run, bool) {
	like.mtu = mtu
	for _, r := range p.runs {
		if !r.sweep() && r.sys == sys && r.key() == like.key() {
			return r, true
		}
	}
	return run{}, false
}

// baseline is tuned udpcast on the same workload, N, loss and target; udpcast
// cannot use jumbo frames (its block size tops out at 1456 bytes), so a
// 9000-byte run without its own baseline is compared with the 1500 one.
// Where tuned udpcast dropped receivers under loss, the same settings with
// --retries-until-drop raised (udp-patient) stand in when they succeeded.
func (p *report) baseline(r run) (run, bool) {
	for _, mtu := range []int{r.mtu, 1500} {
		b, ok := p.find("udp-tuned", r, mtu)
		if pt, pok := p.find("udp-patient", r, mtu); pok && pt.valid() && (!ok || !b.valid()) {
			return pt, true
		}
		if ok {
			return b, true
		}
	}
	return run{}, false
}

func (p *report) ceiling(n, mtu int) float64 {
	for _, c := range p.ceil {
		if len(c) >= 5 && int(num(c[0])) == n && int(num(c[1])) == mtu {
			return num(c[4])
		}
	}
	return math.NaN()
}

func f2(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func (p *report) printf(format string, a ...any) { fmt.Fprintf(p.w, format, a...) }

func (p *report) runsTable() {
	p.printf("| workload | disk MiB | system | N | MTU | loss %% | target | wall s | correct | disk MB/s | wire MB | wire kpkts | sender CPU s | receivers CPU s | × tuned udpcast time | load | note |\n")
	p.printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range p.runs {
		if r.sweep() {
			continue
		}
		ratio := "–"
		if b, ok := p.baseline(r); ok && b.valid() && r.valid() {
			ratio = f2(r.wall / b.wall)
		}
		rate := float64(r.mib) * 1048576 / 1e6 / r.wall
		if !r.valid() {
			rate = math.NaN()
		}
		p.printf("| %s | %d | %s | %d | %d | %g | %s | %s | %d/%d | %s | %.0f | %.0f | %s | %s | %s | %s | %s |\n",
			r.wl, r.mib, r.sys, r.n, r.mtu, r.loss, r.target, f2(r.wall), r.ok, r.total, f2(rate),
			r.wire/1e6, r.pkts/1e3, f2(r.sendCPU), f2(r.recvCPU), ratio, f2(r.ld), r.note)
	}
}

func (p *report) sweepTable() {
	p.printf("| --max-bitrate | wall s | correct | wire MB |\n|---|---|---|---|\n")
	for _, r := range p.runs {
		if r.sweep() {
			p.printf("| %s | %s | %d/%d | %.0f |\n", strings.TrimPrefix(r.note, "sweep "), f2(r.wall), r.ok, r.total, r.wire/1e6)
		}
	}
}

func (p *report) ceilTable() {
	p.printf("| N | MTU | payload B | sender MB/s | slowest receiver MB/s | worst loss %% | load |\n|---|---|---|---|---|---|---|\n")
	for _, c := range p.ceil {
		if len(c) >= 7 {
			p.printf("| %s | %s | %s | %.0f | %.0f | %.2f | %s |\n", c[0], c[1], c[2], num(c[3]), num(c[4]), 100*num(c[5]), c[6])
		}
	}
}

// verdict formats a measured ratio against a target bound.
func verdict(v float64, why string, bound float64, atMost bool) string {
	if math.IsNaN(v) {
		if why == "" {
			why = "not run"
		}
		return why
	}
	ok := v <= bound
	if !atMost {
		ok = v >= bound
	}
	if ok {
		return fmt.Sprintf("**%.2f** (met)", v)
	}
	return fmt.Sprintf("**%.2f** (missed)", v)
}

// scaleMiB is the disk size of the time-vs-N runs: the smallest (b) disk at N=1.
func (p *report) scaleMiB() int {
	m := 0
	for _, r := range p.runs {
		if r.wl == "b" && r.n == 1 && (m == 0 || r.mib < m) {
			m = r.mib
		}
	}
	return m
}

func (p *report) mainB(sys string, loss float64) (run, bool) {
	big := 0
	for _, r := range p.runs {
		if r.wl == "b" && r.mib > big {
			big = r.mib
		}
	}
	for _, r := range p.runs {
		if !r.sweep() && r.sys == sys && r.wl == "b" && r.mib == big && r.n == 3 && r.mtu == 1500 && r.loss == loss && r.target == "tmpfs" {
			return r, true
		}
	}
	return run{}, false
}

func (p *report) get(sys, wl string, loss float64, mtu int) (run, bool) {
	if wl == "b" && mtu == 1500 {
		return p.mainB(sys, loss)
	}
	for _, r := range p.runs {
		if !r.sweep() && r.sys == sys && r.wl == wl && r.n == 3 && r.mtu == mtu && r.loss == loss && r.target == "tmpfs" {
			return r, true
		}
	}
	return run{}, false
}

// ratioOf is a.wall / b.wall, or NaN when either run is missing or had a
// receiver end incorrect; why says which.
func ratioOf(a, b run, okA, okB bool) (float64, string) {
	switch {
	case !okA || !okB:
		return math.NaN(), "not run"
	case !a.valid():
		return math.NaN(), fmt.Sprintf("Discus failed (%d/%d correct%s)", a.ok, a.total, noteOf(a))
	case !b.valid():
		return math.NaN(), fmt.Sprintf("reference failed (%s %d/%d correct%s)", b.sys, b.ok, b.total, noteOf(b))
	}
	return a.wall / b.wall, ""
}

func noteOf(r run) string {
	if r.note == "" {
		return ""
	}
	return "; " + r.note
}

// verdictOf adapts ratioOf's two results to verdict.
func verdictOf(v float64, why string) func(float64, bool) string {
	return func(bound float64, atMost bool) string { return verdict(v, why, bound, atMost) }
}

func (p *report) targets() {
	p.printf("| target | Discus system | measured | bound |\n|---|---|---|---|\n")
	for _, mtu := range []int{1500, 9000} {
		for _, sys := range []string{"discus", "discus-rate"} {
			r, ok := p.get(sys, "a", 0, mtu)
			v, why := math.NaN(), "not run"
			if ok && r.valid() {
				v = float64(r.mib) * 1048576 / 1e6 / r.wall / p.ceiling(3, mtu)
			} else if ok {
				why = fmt.Sprintf("failed (%d/%d correct%s)", r.ok, r.total, noteOf(r))
			}
			p.printf("| (a) 0 %% loss, MTU %d: throughput / blaster ceiling (N=3) | %s | %s | ≥ 0.95 |\n", mtu, sys, verdict(v, why, 0.95, false))
		}
	}
	for _, wl := range []string{"b", "c"} {
		for _, loss := range []float64{0, 1} {
			u, uok := p.get("udp-tuned", wl, loss, 1500)
			if pt, pok := p.get("udp-patient", wl, loss, 1500); pok && pt.valid() && (!uok || !u.valid()) {
				u, uok = pt, true
			}
			for _, sys := range []string{"discus", "discus-onfly"} {
				d, dok := p.get(sys, wl, loss, 1500)
				p.printf("| (%s) %g %% loss: time / tuned udpcast (%s) | %s | %s | ≤ 0.10 |\n", wl, loss, u.sys, sys, verdictOf(ratioOf(d, u, dok, uok))(0.10, true))
			}
		}
		for _, sys := range []string{"discus", "discus-onfly"} {
			d0, ok0 := p.get(sys, wl, 0, 1500)
			d5, ok5 := p.get(sys, wl, 5, 1500)
			res := "not run"
			if ok5 {
				res = fmt.Sprintf("%d/%d correct; %s", d5.ok, d5.total, verdictOf(ratioOf(d5, d0, ok5, ok0))(1.3, true))
			}
			p.printf("| (%s) 5 %% loss: every receiver correct; time / own 0 %% time | %s | %s | all; ≤ 1.30 |\n", wl, sys, res)
		}
	}
	uz, uzok := p.get("udp-zstd", "bz", 0, 1500)
	if ut, ok := p.get("udp-tuned", "bz", 0, 1500); ok && ut.valid() && (!uzok || !uz.valid() || ut.wall < uz.wall) {
		uz, uzok = ut, true
	}
	for _, sys := range []string{"discus", "discus-onfly"} {
		d, dok := p.get(sys, "bz", 0, 1500)
		p.printf("| (b, free space zeroed) time / udpcast at its best (%s) | %s | %s | ≤ 0.50 |\n", uz.sys, sys, verdictOf(ratioOf(d, uz, dok, uzok))(0.5, true))
	}
	for _, sys := range []string{"discus", "discus-onfly"} {
		var t1, t8 run
		var ok1, ok8 bool
		for _, r := range p.runs {
			if r.sys == sys && r.wl == "b" && r.mib == p.scaleMiB() && r.mtu == 1500 && r.loss == 0 && r.target == "tmpfs" {
				if r.n == 1 {
					t1, ok1 = r, true
				}
				if r.n == 8 {
					t8, ok8 = r, true
				}
			}
		}
		p.printf("| N = 1 → 8 ((b) %d MiB): time(8) / time(1) | %s | %s | ≤ 1.15 |\n", p.scaleMiB(), sys, verdictOf(ratioOf(t8, t1, ok8, ok1))(1.15, true))
	}
}

// dat writes the gnuplot inputs: time vs loss and time vs N per system.
func (p *report) dat(dir string) error {
	systems := []string{"udp-tuned", "udp-zstd", "discus", "discus-onfly", "discus-rate", "udp-patient"}
	var losses []float64
	seen := map[float64]bool{}
	for _, r := range p.runs {
		if _, ok := p.mainB(r.sys, r.loss); ok && !seen[r.loss] && r.wl == "b" {
			seen[r.loss] = true
			losses = append(losses, r.loss)
		}
	}
	sort.Float64s(losses)
	var b strings.Builder
	b.WriteString("# loss " + strings.Join(systems, " ") + "\n")
	for _, l := range losses {
		fmt.Fprintf(&b, "%g", l)
		for _, s := range systems {
			if r, ok := p.mainB(s, l); ok && r.valid() {
				fmt.Fprintf(&b, " %.2f", r.wall)
			} else {
				b.WriteString(" NaN")
			}
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "loss.dat"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	b.Reset()
	b.WriteString("# n " + strings.Join(systems, " ") + "\n")
	ns := map[int]map[string]float64{}
	for _, r := range p.runs {
		if r.wl == "b" && r.mib == p.scaleMiB() && r.mtu == 1500 && r.loss == 0 && r.target == "tmpfs" && !r.sweep() {
			if ns[r.n] == nil {
				ns[r.n] = map[string]float64{}
			}
			if r.valid() {
				ns[r.n][r.sys] = r.wall
			}
		}
	}
	var keys []int
	for n := range ns {
		keys = append(keys, n)
	}
	sort.Ints(keys)
	for _, n := range keys {
		fmt.Fprintf(&b, "%d", n)
		for _, s := range systems {
			if v, ok := ns[n][s]; ok {
				fmt.Fprintf(&b, " %.2f", v)
			} else {
				b.WriteString(" NaN")
			}
		}
		b.WriteString("\n")
	}
	return os.WriteFile(filepath.Join(dir, "n.dat"), []byte(b.String()), 0o644)
}

func main() {
	results := flag.String("results", "bench/results", "directory of the CSVs")
	mode := flag.String("mode", "full", "quick or full")
	datDir := flag.String("dat", "", "write loss.dat and n.dat here")
	flag.Parse()
	runs, err := loadRuns(filepath.Join(*results, *mode+"-runs.csv"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	ceil, _ := readCSV(filepath.Join(*results, *mode+"-ceiling.csv"))
	p := &report{runs: runs, ceil: ceil, w: os.Stdout}
	meta, _ := os.ReadFile(filepath.Join(*results, *mode+"-meta.txt"))
	imgs, _ := readCSV(filepath.Join(*results, *mode+"-images.csv"))
	p.printf("## %s run\n\n```\n%s```\n\n", *mode, meta)
	p.printf("### Ceiling: plain UDP multicast blaster (sendmmsg batches of 64, 3 s+)\n\n")
	p.ceilTable()
	p.printf("\n### Image creation (mcimage create, not part of the transfer times)\n\n| workload | disk MiB | wall s | CPU s | image MB |\n|---|---|---|---|---|\n")
	for _, c := range imgs {
		if len(c) >= 5 {
			p.printf("| %s | %s | %s | %s | %.0f |\n", c[0], c[1], c[2], c[3], num(c[4])/1e6)
		}
	}
	p.printf("\n### udpcast --max-bitrate sweep ((a), N=3, MTU 1500, 0 %% loss)\n\n")
	p.sweepTable()
	p.printf("\n### Targets from issue 5\n\n")
	p.targets()
	p.printf("\n### All runs\n\n")
	p.runsTable()
	if *datDir != "" {
		if err := p.dat(*datDir); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	}
}
