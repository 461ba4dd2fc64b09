package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// table collects the per-round results and prints the medians.
type table struct {
	Mode     string `json:"mode"`
	Rounds   int    `json:"rounds"`
	W4Rounds int    `json:"w4_rounds"`
	Params   params `json:"params"`

	Engines []string                        `json:"engines"`
	Vals    map[string]map[string][]float64 `json:"values"` // metric → engine → one value per round
	SQL     map[string][]float64            `json:"sqlite"`
	Notes   map[string][]string             `json:"notes"`  // engine → notes
	Errs    map[string]map[string]string    `json:"errors"` // workload → engine → error or n/a
	engs    []engineInfo
}

func newTable(engs []engineInfo) *table {
	t := &table{Vals: map[string]map[string][]float64{}, SQL: map[string][]float64{},
		Notes: map[string][]string{}, Errs: map[string]map[string]string{}, engs: engs}
	for _, e := range engs {
		t.Engines = append(t.Engines, e.Key)
	}
	return t
}

func (t *table) add(work, engine string, res result) {
	for k, v := range res.Metrics {
		if t.Vals[k] == nil {
			t.Vals[k] = map[string][]float64{}
		}
		t.Vals[k][engine] = append(t.Vals[k][engine], v)
	}
	for _, n := range res.Notes {
		if !slices.Contains(t.Notes[engine], n) {
			t.Notes[engine] = append(t.Notes[engine], n)
		}
	}
	if res.Err != "" || res.NA != "" {
		if t.Errs[work] == nil {
			t.Errs[work] = map[string]string{}
		}
		if res.Err != "" {
			t.Errs[work][engine] = "error: " + res.Err
		} else if _, ok := t.Errs[work][engine]; !ok {
			t.Errs[work][engine] = "n/a: " + res.NA
		}
	}
}

func (t *table) addNote(engine, n string) {
	if !slices.Contains(t.Notes[engine], n) {
		t.Notes[engine] = append(t.Notes[engine], n)
	}
}

func (t *table) addSQL(res result) {
	for k, v := range res.Metrics {
		t.SQL[k] = append(t.SQL[k], v)
	}
	if res.Err != "" {
		t.SQL["error"] = append(t.SQL["error"], math.NaN())
		fmt.Println("raw SQLite error:", res.Err)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type better int

const (
	none better = iota
	higher
	lower
)

type row struct {
	metric, work, label, target string
	better                      better
	goal                        float64
}

var rows = []row{
	{"w1_wfps", "w1", "W1 concurrent 3-activity runs (workflows/s)", "≥ 5,000", higher, 5000},
	{"w1_rss", "w1", "W1 peak RSS (MB)", "", lower, 0},
	{"w1_p1_wfps", "w1", "W1 shared mode, 1 engine process (workflows/s)", "", higher, 0},
	{"w1_p2_wfps", "w1", "W1 shared mode, 2 engine processes, one database (workflows/s)", "", higher, 0},
	{"w1_p4_wfps", "w1", "W1 shared mode, 4 engine processes, one database (workflows/s)", "", higher, 0},
	{"w1_p8_wfps", "w1", "W1 shared mode, 8 engine processes, one database (workflows/s)", "", higher, 0},
	{"w2_p50", "w2", "W2 one run, Start→Result p50 (ms)", "≤ 1", lower, 1},
	{"w2_p99", "w2", "W2 one run, Start→Result p99 (ms)", "≤ 3", lower, 3},
	{"w3_ms", "w3", "W3 one run fanning out 100 activities (ms)", "≤ 10", lower, 10},
	{"w4_n", "w4", "W4 runs parked on a signal", "100,000", none, 0},
	{"w4_park_rate", "w4", "W4 parking rate (runs/s)", "", higher, 0},
	{"w4_rss", "w4", "W4 peak RSS with the runs parked (MB)", "≤ 256", lower, 256},
	{"w4_kb_per_run", "w4", "W4 RSS growth per parked run (KB)", "", lower, 0},
	{"w4_wake_rate", "w4", "W4 wake-to-completion (runs/s)", "≥ 5,000", higher, 5000},
	{"w4_rss_end", "w4", "W4 peak RSS including the wake (MB)", "", lower, 0},
	{"w5_events", "w5", "W5 history length (journal rows)", "10,000", none, 0},
	{"w5_ms", "w5", "W5 reopen + wake that run → result (ms)", "", lower, 0},
	{"w5_open_ms", "w5", "W5   of which Open (ms)", "", lower, 0},
	{"w5_query_ms", "w5", "W5 first Query after reopen = replay (ms)", "≤ 20", lower, 20},
	{"w5_replay_ms", "w5", "W5 replay.Run of the exported history (ms)", "", lower, 0},
	{"w6_n", "w6", "W6 in-flight runs in the file", "100,000", none, 0},
	{"w6_s", "w6", "W6 reopen until a new Start returns (s)", "≤ 2", lower, 2},
	{"w6_open_s", "w6", "W6   of which Open + Register (s)", "", lower, 0},
	{"w6_rss", "w6", "W6 peak RSS of the reopened process (MB)", "", lower, 0},
	{"w7_tiny_wfps", "w7", "W7 runs with 8-byte payloads: 3 activities + a signal (workflows/s)", "", higher, 0},
	{"w7_kb_wfps", "w7", "W7 the same with 1 KiB payloads (workflows/s)", "", higher, 0},
	{"w7_kb_share", "w7", "W7 1 KiB rate as % of the 8-byte rate", "≥ 80", higher, 80},
	{"w8_p50_c1", "w8", "W8 Start p50, 1 starter (ms)", "", lower, 0},
	{"w8_p99_c1", "w8", "W8 Start p99, 1 starter (ms)", "", lower, 0},
	{"w8_p50_c16", "w8", "W8 Start p50, 16 starters (ms)", "", lower, 0},
	{"w8_p99_c16", "w8", "W8 Start p99, 16 starters (ms)", "", lower, 0},
	{"w8_p50_c64", "w8", "W8 Start p50, 64 starters (ms)", "", lower, 0},
	{"w8_p99_c64", "w8", "W8 Start p99, 64 starters (ms)", "", lower, 0},
	{"w8_ratio_c16", "w8", "W8 p99 at 16 starters / p99 at 1", "≤ 2", lower, 2},
	{"w8_ratio_c64", "w8", "W8 p99 at 64 starters / p99 at 1", "", lower, 0},
}

// commitsPerRun is how many commits one run of the 3-activity workflow must
// wait for one after the other: the start (with the first activity's
// schedule), and each activity's completion (with the next schedule, and
// the last one with the run's end). eventsPerRun is how many journal rows
// such a run writes at the least: its start and end, and a scheduled and a
// completed event per activity.
const (
	commitsPerRun = 4
	eventsPerRun  = 8
)

func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "–"
	case a >= 1000:
		return commas(int64(math.Round(v)))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func (t *table) cell(r row, engine string) (float64, string) {
	vs := t.Vals[r.metric][engine]
	if len(vs) == 0 {
		if e, ok := t.Errs[r.work][engine]; ok {
			if strings.HasPrefix(e, "n/a") {
				return math.NaN(), "n/a"
			}
			return math.NaN(), "error"
		}
		return math.NaN(), "n/a"
	}
	m := median(vs)
	return m, fmtNum(m)
}

func (t *table) has(engine string) bool { return slices.Contains(t.Engines, engine) }

// sizesDiffer reports whether two engines ran a W4 or W6 row with
// different numbers of runs.
func (t *table) sizesDiffer(r row, a, b string) bool {
	var n string
	switch r.work {
	case "w4":
		n = "w4_n"
	case "w6":
		n = "w6_n"
	default:
		return false
	}
	na, _ := t.cell(row{metric: n, work: r.work}, a)
	nb, _ := t.cell(row{metric: n, work: r.work}, b)
	return na != nb
}

// print writes the Markdown tables.
func (t *table) print(w io.Writer) {
	p := t.Params
	fmt.Fprintf(w, "Mode: %s, %d round(s) (W4: %d), medians over the rounds; %s.\n", t.Mode, t.Rounds, t.W4Rounds, machine())
	fmt.Fprintf(w, "Sizes: W1 %s concurrent runs, W2 up to %d samples, W3 %d activities x up to %d, W4 %s runs, W5 %s activities, W6 %s runs.\n\n",
		commas(int64(p.W1Concurrent)), p.W2Samples, p.W3Fan, p.W3Reps, commas(int64(p.W4N)), commas(int64(p.W5Activities)), commas(int64(p.W6N)))

	if p.Short {
		fmt.Fprintln(w, "Short mode: the sizes are too small to judge the targets; run without -short for the published numbers.")
		fmt.Fprintln(w)
	}
	// The main table.
	hdr := []string{"workload", "target"}
	for _, e := range t.engs {
		hdr = append(hdr, e.Label)
	}
	judge := !p.Short
	if judge {
		hdr = append(hdr, "Chorus FULL vs target")
	}
	fmt.Fprintln(w, "| "+strings.Join(hdr, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat("---|", len(hdr)))
	for _, r := range rows {
		if _, ok := t.Vals[r.metric]; !ok && t.Errs[r.work] == nil {
			continue
		}
		line := []string{r.label, r.target}
		for _, e := range t.engs {
			_, s := t.cell(r, e.Key)
			line = append(line, s)
		}
		status := ""
		if r.goal > 0 && t.has("chorus") {
			if v, _ := t.cell(r, "chorus"); !math.IsNaN(v) {
				switch {
				case r.better == higher && v >= r.goal, r.better == lower && v <= r.goal:
					status = "met"
				case r.better == higher:
					status = fmt.Sprintf("missed: %.0f%% of target", 100*v/r.goal)
				default:
					status = fmt.Sprintf("missed: %.1fx target", v/r.goal)
				}
			}
		}
		if judge {
			line = append(line, status)
		}
		fmt.Fprintln(w, "| "+strings.Join(line, " | ")+" |")
	}

	// Ratios Chorus / peer at the same durability.
	type pair struct{ a, b, label string }
	var pairs []pair
	for _, pp := range []pair{
		{"chorus", "gow", "Chorus FULL / go-workflows"},
		{"chorus", "gow-mono", "Chorus FULL / go-wf mono"},
		{"chorus", "dbos", "Chorus FULL / DBOS FULL"},
		{"chorus-normal", "dbos-normal", "Chorus NORMAL / DBOS NORMAL"},
		{"chorus-pg", "dbos-pg", "Chorus PG / DBOS PG"},
	} {
		if t.has(pp.a) && t.has(pp.b) {
			pairs = append(pairs, pp)
		}
	}
	if len(pairs) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Ratios Chorus/peer of the medians, same durability setting. For throughput >1 means Chorus is better;")
		fmt.Fprintln(w, "for times and RSS <1 means Chorus is better (0.10 = Chorus takes a tenth).")
		fmt.Fprintln(w)
		hdr := []string{"workload"}
		for _, pp := range pairs {
			hdr = append(hdr, pp.label)
		}
		fmt.Fprintln(w, "| "+strings.Join(hdr, " | ")+" |")
		fmt.Fprintln(w, "|"+strings.Repeat("---|", len(hdr)))
		footnote := false
		for _, r := range rows {
			if r.better == none {
				continue
			}
			if _, ok := t.Vals[r.metric]; !ok {
				continue
			}
			line := []string{r.label}
			any := false
			for _, pp := range pairs {
				a, _ := t.cell(r, pp.a)
				b, bs := t.cell(r, pp.b)
				switch {
				case math.IsNaN(a) || math.IsNaN(b):
					line = append(line, bs)
					if bs == "–" {
						line[len(line)-1] = "–"
					}
				case b == 0:
					line = append(line, "–")
				default:
					cellS := fmt.Sprintf("%.3g", a/b)
					if t.sizesDiffer(r, pp.a, pp.b) && r.metric != "w4_kb_per_run" {
						cellS += " ¹"
						footnote = true
					}
					line = append(line, cellS)
					any = true
				}
			}
			if any {
				fmt.Fprintln(w, "| "+strings.Join(line, " | ")+" |")
			}
		}
		if footnote {
			fmt.Fprintln(w)
			fmt.Fprintln(w, "¹ The two engines held different numbers of runs (the peer hit a time cap, see the notes):")
			fmt.Fprintln(w, "compare rates and the per-run RSS, not totals.")
		}
	}

	// The raw SQLite ceilings.
	if len(t.SQL) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Raw SQLite ceilings on this disk (modernc.org/sqlite, WAL, one connection, BEGIN IMMEDIATE, 100-byte rows):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| measurement | synchronous=FULL | synchronous=NORMAL |")
		fmt.Fprintln(w, "|---|---|---|")
		fmt.Fprintf(w, "| single-row commits/s | %s | %s |\n", fmtNum(median(t.SQL["sql_commits_full"])), fmtNum(median(t.SQL["sql_commits_normal"])))
		fmt.Fprintf(w, "| rows/s in 1,000-row transactions | %s | %s |\n", fmtNum(median(t.SQL["sql_rows1000_full"])), fmtNum(median(t.SQL["sql_rows1000_normal"])))
		fmt.Fprintf(w, "| one single-row commit, p50 (ms) | %s | %s |\n", fmtNum(median(t.SQL["sql_commit_p50_full"])), fmtNum(median(t.SQL["sql_commit_p50_normal"])))
		t.printFloor(w)
	}

	// Every round's value, to show the spread.
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Per-round values (spread; the machine is shared, so single rounds are noisy):")
	fmt.Fprintln(w)
	for _, r := range rows {
		for _, e := range t.engs {
			if vs := t.Vals[r.metric][e.Key]; len(vs) > 0 {
				var s []string
				for _, v := range vs {
					s = append(s, fmtNum(v))
				}
				fmt.Fprintf(w, "    %-14s %-13s %s\n", r.metric, e.Key, strings.Join(s, "  "))
			}
		}
	}
	for k, vs := range t.SQL {
		var s []string
		for _, v := range vs {
			s = append(s, fmtNum(v))
		}
		fmt.Fprintf(w, "    %-20s %-7s %s\n", k, "sqlite", strings.Join(s, "  "))
	}

	// Errors, n/a and notes.
	var extra []string
	for _, wk := range allWorkloads {
		for _, e := range t.engs {
			if msg, ok := t.Errs[wk][e.Key]; ok {
				extra = append(extra, fmt.Sprintf("- %s on %s: %s", strings.ToUpper(wk), e.Label, msg))
			}
		}
	}
	for _, e := range t.engs {
		for _, n := range t.Notes[e.Key] {
			extra = append(extra, fmt.Sprintf("- %s: %s", e.Label, n))
		}
	}
	if len(extra) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Notes:")
		fmt.Fprintln(w)
		for _, x := range extra {
			fmt.Fprintln(w, x)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Engines:")
	for _, e := range t.engs {
		fmt.Fprintf(w, "- %s: %s\n", e.Label, e.Comment)
	}
}

// printFloor compares Chorus with the physical floor measured in the same
// run: W2 against the commits a run must wait for one after the other, W1
// against the rate at which the disk takes the run's journal rows in large
// transactions.
func (t *table) printFloor(w io.Writer) {
	type col struct{ engine, sync string }
	var cols []col
	for _, c := range []col{{"chorus", "full"}, {"chorus-normal", "normal"}} {
		if t.has(c.engine) {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 || len(t.SQL["sql_commit_p50_full"]) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Chorus against the physical floor of this disk, measured in the same run (a run waits for %d commits one after the other,\n", commitsPerRun)
	fmt.Fprintf(w, "and writes at least %d journal rows; ratios are Chorus / floor, 1.0 is the floor):\n", eventsPerRun)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| measurement | floor FULL | Chorus FULL | ratio | floor NORMAL | Chorus NORMAL | ratio |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	line := func(label, metric string, floor func(sync string) float64, higherIsBetter bool) {
		cells := []string{label}
		for _, sync := range []string{"full", "normal"} {
			f := floor(sync)
			engine := "chorus"
			if sync == "normal" {
				engine = "chorus-normal"
			}
			v := math.NaN()
			if t.has(engine) {
				v, _ = t.cell(row{metric: metric}, engine)
			}
			ratio := "–"
			if !math.IsNaN(v) && f > 0 && !math.IsNaN(f) {
				if higherIsBetter {
					ratio = fmt.Sprintf("%.2f", v/f)
				} else {
					ratio = fmt.Sprintf("%.2fx", v/f)
				}
			}
			cells = append(cells, fmtNum(f), fmtNum(v), ratio)
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
	commit := func(sync string) float64 { return commitsPerRun * median(t.SQL["sql_commit_p50_"+sync]) }
	line("W2 Start→Result p50 (ms) against the sequential commits", "w2_p50", commit, false)
	line("W2 Start→Result p99 (ms) against the same floor", "w2_p99", commit, false)
	line("W1 workflows/s against batched journal rows / rows per run", "w1_wfps",
		func(sync string) float64 { return median(t.SQL["sql_rows1000_"+sync]) / eventsPerRun }, true)
}
