package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// report reads result lines and writes the markdown of medians and Go/Node
// ratios, to stdout or into the results section of a file (between the
// markers below).
func report(args []string) {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	in := fs.String("in", "bench/results/latest.jsonl", "results file (JSON lines)")
	splice := fs.String("splice", "", "replace the results section of this markdown file instead of printing")
	machine := fs.String("machine", "", "file with the machine description, included verbatim")
	command := fs.String("command", "", "the command that produced the results, quoted in the report")
	fs.Parse(args)

	results, err := readResults(*in)
	if err != nil {
		log.Fatal(err)
	}
	var md bytes.Buffer
	writeReport(&md, results, *machine, *command)
	if *splice == "" {
		os.Stdout.Write(md.Bytes())
		return
	}
	if err := spliceInto(*splice, md.Bytes()); err != nil {
		log.Fatal(err)
	}
}

const (
	markBegin = "<!-- results:begin -->"
	markEnd   = "<!-- results:end -->"
)

func spliceInto(path string, section []byte) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.Index(old, []byte(markBegin))
	j := bytes.Index(old, []byte(markEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s ... %s section", path, markBegin, markEnd)
	}
	var out bytes.Buffer
	out.Write(old[:i+len(markBegin)])
	out.WriteString("\n")
	out.Write(section)
	out.Write(old[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}

func readResults(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

type runs struct {
	byKey map[string][]Result // scenario + "/" + server
}

func (r runs) get(scenario, server string) []Result { return r.byKey[scenario+"/"+server] }

// values returns the metric of every round that has it.
func (r runs) values(scenario, server, metric string) []float64 {
	var vs []float64
	for _, res := range r.get(scenario, server) {
		if v, ok := res.Metrics[metric]; ok && v >= 0 {
			vs = append(vs, v)
		}
	}
	return vs
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// commonStep is the highest rate of a stepped scenario that both servers
// held in more than half of their rounds, or 0.
func (r runs) commonStep(scenario string) float64 {
	held := func(server string, rate float64) bool {
		rs := r.get(scenario, server)
		n := 0
		for _, res := range rs {
			for _, st := range res.Steps {
				if st.Rate == rate && st.OK {
					n++
				}
			}
		}
		return len(rs) > 0 && 2*n > len(rs)
	}
	best := 0.0
	for _, res := range r.get(scenario, "go") {
		for _, st := range res.Steps {
			if st.Rate > best && held("go", st.Rate) && held("node", st.Rate) {
				best = st.Rate
			}
		}
	}
	return best
}

// stepValues returns field f of the step at rate in every round that ran it.
func (r runs) stepValues(scenario, server string, rate float64, f func(Step) float64) []float64 {
	var vs []float64
	for _, res := range r.get(scenario, server) {
		for _, st := range res.Steps {
			if st.Rate == rate {
				vs = append(vs, f(st))
			}
		}
	}
	return vs
}

// cpuPerOp is the server's CPU time per delivery (or ack) in a step, in
// microseconds: a figure that depends less than rates and latencies on the
// share of the core the server got on a shared machine.
func cpuPerOp(st Step) float64 {
	if st.Delivered <= 0 || st.ServerCPU < 0 {
		return math.NaN()
	}
	return st.ServerCPU / 100 / st.Delivered * 1e6
}

// perOp is the server's CPU time per operation of a scenario with a rate
// metric, per round, in microseconds.
func (r runs) perOp(scenario, server, rateMetric string) []float64 {
	var vs []float64
	for _, res := range r.get(scenario, server) {
		rate, cpu := res.Metrics[rateMetric], res.Metrics["server_cpu"]
		if rate > 0 && cpu >= 0 {
			vs = append(vs, cpu/100/rate*1e6)
		}
	}
	return vs
}

// sharedRates returns up to n of the highest rates that every round of both
// servers ran, held or not, highest last.
func (r runs) sharedRates(scenario string, n int) []float64 {
	count := map[float64]int{}
	rounds := 0
	for _, server := range []string{"go", "node"} {
		for _, res := range r.get(scenario, server) {
			rounds++
			for _, st := range res.Steps {
				count[st.Rate]++
			}
		}
	}
	var rates []float64
	for rate, c := range count {
		if c == rounds {
			rates = append(rates, rate)
		}
	}
	sort.Float64s(rates)
	if len(rates) > n {
		rates = rates[len(rates)-n:]
	}
	return rates
}

type row struct {
	scenario, label string
	goV, nodeV      []float64
	unit            string
	target          string
	// check reports whether the target holds, given the medians; nil when
	// the row has no target.
	check func(g, n float64) bool
}

func writeReport(w *bytes.Buffer, results []Result, machineFile, command string) {
	r := runs{byKey: map[string][]Result{}}
	rounds := 0
	for _, res := range results {
		k := res.Scenario + "/" + res.Server
		r.byKey[k] = append(r.byKey[k], res)
		rounds = max(rounds, len(r.byKey[k]))
	}
	first, last := "", ""
	for _, res := range results {
		if first == "" || res.Time < first {
			first = res.Time
		}
		if res.Time > last {
			last = res.Time
		}
	}
	fmt.Fprintf(w, "Run of %s to %s: up to %d rounds per scenario and server, Go and Node interleaved; "+
		"each cell is the median of the rounds (the rounds' own values in the last columns).\n\n", first, last, rounds)
	if machineFile != "" {
		if b, err := os.ReadFile(machineFile); err == nil {
			w.WriteString("Machine of this run:\n\n```\n")
			w.Write(bytes.TrimSpace(b))
			w.WriteString("\n```\n\n")
		}
	}
	if command != "" {
		fmt.Fprintf(w, "Command: `%s`\n\n", command)
	}

	var rows []row
	ratioAtLeast := func(x float64) func(g, n float64) bool {
		return func(g, n float64) bool { return g >= x*n }
	}
	param := func(scenario, name string) string {
		for _, res := range results {
			if res.Scenario == scenario {
				if v, ok := res.Params[name]; ok {
					return fmt.Sprint(v)
				}
			}
		}
		return "?"
	}

	for _, sc := range []string{"connect", "connect-polling"} {
		if len(r.get(sc, "go")) == 0 && len(r.get(sc, "node")) == 0 {
			continue
		}
		name := fmt.Sprintf("%s (%s clients, %s at once)", sc, param(sc, "clients"), param(sc, "concurrency"))
		rw := row{scenario: name, label: "connects/s", unit: "rate",
			goV: r.values(sc, "go", "connects_per_s"), nodeV: r.values(sc, "node", "connects_per_s")}
		if sc == "connect" {
			rw.target, rw.check = "≥ 3× Node", ratioAtLeast(3)
		}
		rows = append(rows, rw,
			row{scenario: name, label: "time to CONNECT p50", unit: "ms",
				goV: r.values(sc, "go", "p50_ms"), nodeV: r.values(sc, "node", "p50_ms")},
			row{scenario: name, label: "time to CONNECT p99", unit: "ms",
				goV: r.values(sc, "go", "p99_ms"), nodeV: r.values(sc, "node", "p99_ms")},
			row{scenario: name, label: "server CPU during connects", unit: "%",
				goV: r.values(sc, "go", "server_cpu"), nodeV: r.values(sc, "node", "server_cpu")},
			row{scenario: name, label: "server CPU time per connect", unit: "µs",
				goV: r.perOp(sc, "go", "connects_per_s"), nodeV: r.perOp(sc, "node", "connects_per_s")},
		)
	}

	if len(r.get("idle", "go")) > 0 || len(r.get("idle", "node")) > 0 {
		sizes := map[string]bool{}
		for _, res := range results {
			if res.Scenario == "idle" {
				for k := range res.Metrics {
					if s, ok := strings.CutPrefix(k, "rss_per_conn_kb_"); ok {
						sizes[s] = true
					}
				}
			}
		}
		keys := make([]string, 0, len(sizes))
		for s := range sizes {
			keys = append(keys, s)
		}
		sort.Slice(keys, func(i, j int) bool {
			return len(keys[i]) < len(keys[j]) || len(keys[i]) == len(keys[j]) && keys[i] < keys[j]
		})
		rows = append(rows, row{scenario: "idle (WebSocket)", label: "server RSS before connecting", unit: "MB",
			goV: r.values("idle", "go", "rss_base_mb"), nodeV: r.values("idle", "node", "rss_base_mb")})
		for _, s := range keys {
			if strings.HasSuffix(s, "_gc") {
				continue
			}
			rw := row{scenario: "idle (WebSocket)", label: "RSS per connection, " + s + " held", unit: "KB",
				goV: r.values("idle", "go", "rss_per_conn_kb_"+s), nodeV: r.values("idle", "node", "rss_per_conn_kb_"+s)}
			if s == "10000" {
				rw.target = "< Node and ≤ 12 KB"
				rw.check = func(g, n float64) bool { return g < n && g <= 12 }
			}
			rows = append(rows, rw)
		}
		for _, s := range keys {
			if !strings.HasSuffix(s, "_gc") {
				continue
			}
			n := strings.TrimSuffix(s, "_gc")
			rows = append(rows, row{scenario: "idle (WebSocket)", label: "RSS per connection, " + n + " held, after a forced GC", unit: "KB",
				goV: r.values("idle", "go", "rss_per_conn_kb_"+s), nodeV: r.values("idle", "node", "rss_per_conn_kb_"+s)})
		}
	}

	if len(r.get("fanout", "go")) > 0 || len(r.get("fanout", "node")) > 0 {
		name := fmt.Sprintf("fanout (%s clients in the room)", param("fanout", "clients"))
		rows = append(rows,
			row{scenario: name, label: "highest sustained deliveries/s", unit: "rate",
				goV: r.values("fanout", "go", "deliveries_per_s"), nodeV: r.values("fanout", "node", "deliveries_per_s"),
				target: "≥ 10× Node", check: ratioAtLeast(10)},
			row{scenario: name, label: "latency p50 at that step", unit: "ms",
				goV: r.values("fanout", "go", "p50_ms"), nodeV: r.values("fanout", "node", "p50_ms")},
			row{scenario: name, label: "latency p99 at that step", unit: "ms",
				goV: r.values("fanout", "go", "p99_ms"), nodeV: r.values("fanout", "node", "p99_ms")},
		)
		if c := r.commonStep("fanout"); c > 0 {
			p99 := func(st Step) float64 { return st.P99 }
			rows = append(rows, row{scenario: name,
				label: fmt.Sprintf("latency p99 at %s deliveries/s (highest step both held)", human(c*numParam(results, "fanout", "receivers"))),
				unit:  "ms", goV: r.stepValues("fanout", "go", c, p99), nodeV: r.stepValues("fanout", "node", c, p99),
				target: "≤ Node", check: func(g, n float64) bool { return g <= n }})
		}
		for _, c := range r.sharedRates("fanout", 2) {
			rows = append(rows, row{scenario: name,
				label: fmt.Sprintf("server CPU time per delivery at %s deliveries/s", human(c*numParam(results, "fanout", "receivers"))),
				unit:  "µs", goV: r.stepValues("fanout", "go", c, cpuPerOp), nodeV: r.stepValues("fanout", "node", c, cpuPerOp)})
		}
	}

	for _, sc := range []string{"echo-ack", "echo-ack-polling"} {
		if len(r.get(sc, "go")) == 0 && len(r.get(sc, "node")) == 0 {
			continue
		}
		name := fmt.Sprintf("%s (%s clients)", sc, param(sc, "clients"))
		rw := row{scenario: name, label: "highest sustained acks/s", unit: "rate",
			goV: r.values(sc, "go", "acks_per_s"), nodeV: r.values(sc, "node", "acks_per_s")}
		if sc == "echo-ack" {
			rw.target, rw.check = "≥ 1.5× Node", ratioAtLeast(1.5)
		}
		rows = append(rows, rw)
		for _, c := range r.sharedRates(sc, 2) {
			rows = append(rows, row{scenario: name,
				label: fmt.Sprintf("server CPU time per ack at %s/s", human(c)),
				unit:  "µs", goV: r.stepValues(sc, "go", c, cpuPerOp), nodeV: r.stepValues(sc, "node", c, cpuPerOp)})
		}
		if sc == "echo-ack" {
			rows = append(rows,
				row{scenario: name, label: "round trip p50 at 20k/s", unit: "ms",
					goV: r.values(sc, "go", "p50_ms_20k"), nodeV: r.values(sc, "node", "p50_ms_20k")},
				row{scenario: name, label: "round trip p99 at 20k/s", unit: "ms",
					goV: r.values(sc, "go", "p99_ms_20k"), nodeV: r.values(sc, "node", "p99_ms_20k"),
					target: "≤ ½ Node", check: func(g, n float64) bool { return g <= n/2 }},
				row{scenario: name, label: "round trip p999 at 20k/s", unit: "ms",
					goV: r.values(sc, "go", "p999_ms_20k"), nodeV: r.values(sc, "node", "p999_ms_20k")},
			)
		} else if c := r.commonStep(sc); c > 0 {
			for _, q := range []struct {
				l string
				f func(Step) float64
			}{{"p50", func(st Step) float64 { return st.P50 }}, {"p99", func(st Step) float64 { return st.P99 }}} {
				rows = append(rows, row{scenario: name,
					label: fmt.Sprintf("round trip %s at %s/s (highest step both held)", q.l, human(c)), unit: "ms",
					goV: r.stepValues(sc, "go", c, q.f), nodeV: r.stepValues(sc, "node", c, q.f)})
			}
		}
	}

	writeTable(w, rows, "Go", "Node")
	w.WriteString("\nLatencies count a message that never arrived (within the step plus its grace time) as infinitely late; " +
		"\"lost\" marks such a quantile. CPU is % of one core over the sending time.\n")
	writeCeiling(w, r)

	for _, sc := range []string{"fanout", "echo-ack", "echo-ack-polling"} {
		writeSteps(w, r, sc, results)
	}
}

// writeCeiling compares sio with the raw ceiling (bench/raw: the same
// application on bare WebSocket framing), in the scenarios it ran.
func writeCeiling(w *bytes.Buffer, r runs) {
	var rows []row
	if len(r.get("connect", "raw")) > 0 {
		rows = append(rows,
			row{scenario: "connect", label: "connects/s", unit: "rate",
				goV: r.values("connect", "go", "connects_per_s"), nodeV: r.values("connect", "raw", "connects_per_s")},
			row{scenario: "connect", label: "server CPU time per connect", unit: "µs",
				goV: r.perOp("connect", "go", "connects_per_s"), nodeV: r.perOp("connect", "raw", "connects_per_s"),
				target: "≤ 2× raw", check: func(g, c float64) bool { return g <= 2*c }},
		)
	}
	if len(r.get("fanout", "raw")) > 0 {
		rows = append(rows, row{scenario: "fanout", label: "highest sustained deliveries/s", unit: "rate",
			goV: r.values("fanout", "go", "deliveries_per_s"), nodeV: r.values("fanout", "raw", "deliveries_per_s")})
		for _, rate := range []float64{50, 100, 1000} {
			rows = append(rows, row{scenario: "fanout", label: fmt.Sprintf("server CPU time per delivery at %s deliveries/s", human(rate*1000)),
				unit: "µs", goV: r.stepValues("fanout", "go", rate, cpuPerOp), nodeV: r.stepValues("fanout", "raw", rate, cpuPerOp)})
		}
	}
	if len(r.get("echo-ack", "raw")) > 0 {
		rows = append(rows,
			row{scenario: "echo-ack", label: "highest sustained acks/s", unit: "rate",
				goV: r.values("echo-ack", "go", "acks_per_s"), nodeV: r.values("echo-ack", "raw", "acks_per_s")},
			row{scenario: "echo-ack", label: "server CPU time per ack at 20k/s", unit: "µs",
				goV: r.stepValues("echo-ack", "go", 20000, cpuPerOp), nodeV: r.stepValues("echo-ack", "raw", 20000, cpuPerOp)},
			row{scenario: "echo-ack", label: "round trip p99 at 20k/s", unit: "ms",
				goV: r.values("echo-ack", "go", "p99_ms_20k"), nodeV: r.values("echo-ack", "raw", "p99_ms_20k")},
		)
	}
	if len(rows) == 0 {
		return
	}
	w.WriteString("\n#### The raw ceiling\n\n" +
		"The same application on bare WebSocket framing (`bench/raw`: no Socket.IO library, packets matched as bytes, " +
		"batched writes), run in the same rounds, in the scenarios where it means something:\n\n")
	writeTable(w, rows, "sio", "raw")
}

// writeTable writes rows comparing server a (goV) with server b (nodeV).
func writeTable(w *bytes.Buffer, rows []row, a, b string) {
	fmt.Fprintf(w, "| Scenario | Figure | %s | %s | %s/%s | Target | Holds? | %s rounds | %s rounds |\n", a, b, a, b, a, b)
	w.WriteString("|---|---|--:|--:|--:|---|---|---|---|\n")
	for _, rw := range rows {
		g, n := median(rw.goV), median(rw.nodeV)
		ratio := "–"
		if g >= 0 && n > 0 && !math.IsNaN(g) && !math.IsNaN(n) {
			ratio = fmt.Sprintf("%.2f×", g/n)
		}
		holds := ""
		if rw.check != nil {
			switch {
			case math.IsNaN(g) || math.IsNaN(n) || g == 0 && n == 0:
				holds = "n/a"
			case rw.unit == "rate" && (g == 0 || n == 0):
				// 0 is "failed the lowest step", not a rate: no ratio.
				holds = "n/a (a server held no step)"
			case rw.check(g, n):
				holds = "**yes**"
			default:
				holds = "**no**"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", rw.scenario, rw.label,
			fmtVal(g, rw.unit), fmtVal(n, rw.unit), ratio, rw.target, holds,
			fmtList(rw.goV, rw.unit), fmtList(rw.nodeV, rw.unit))
	}
}

func numParam(results []Result, scenario, name string) float64 {
	var vs []float64
	for _, res := range results {
		if res.Scenario == scenario {
			if v, ok := res.Params[name].(float64); ok {
				vs = append(vs, v)
			}
		}
	}
	if len(vs) == 0 {
		return 1
	}
	return median(vs)
}

// writeSteps writes the per-step medians of a stepped scenario.
func writeSteps(w *bytes.Buffer, r runs, sc string, results []Result) {
	rates := map[float64]bool{}
	for _, server := range []string{"go", "node"} {
		for _, res := range r.get(sc, server) {
			for _, st := range res.Steps {
				rates[st.Rate] = true
			}
		}
	}
	if len(rates) == 0 {
		return
	}
	keys := make([]float64, 0, len(rates))
	for k := range rates {
		keys = append(keys, k)
	}
	sort.Float64s(keys)
	unit := "acks/s"
	if sc == "fanout" {
		unit = "broadcasts/s"
	}
	fmt.Fprintf(w, "\n#### %s, per step (medians of the rounds that ran the step)\n\n", sc)
	fmt.Fprintf(w, "| %s | offered/s | Go delivered/s | Go p50 | Go p99 | Go srv CPU | Go gen CPU | Go held | Node delivered/s | Node p50 | Node p99 | Node srv CPU | Node gen CPU | Node held |\n", unit)
	w.WriteString("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, rate := range keys {
		offered := 0.0
		cells := []string{}
		for _, server := range []string{"go", "node"} {
			var del, p50, p99, scpu, gcpu []float64
			ran, held := 0, 0
			for _, res := range r.get(sc, server) {
				for _, st := range res.Steps {
					if st.Rate != rate {
						continue
					}
					offered = st.Offered
					ran++
					if st.OK {
						held++
					}
					del = append(del, st.Delivered)
					p50 = append(p50, st.P50)
					p99 = append(p99, st.P99)
					scpu = append(scpu, st.ServerCPU)
					gcpu = append(gcpu, st.GenCPU)
				}
			}
			if ran == 0 {
				cells = append(cells, "–", "–", "–", "–", "–", "not run")
				continue
			}
			cells = append(cells, fmtVal(median(del), "rate"), fmtVal(median(p50), "ms"), fmtVal(median(p99), "ms"),
				fmtVal(median(scpu), "%"), fmtVal(median(gcpu), "%"), fmt.Sprintf("%d/%d", held, ran))
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", human(rate), human(offered), strings.Join(cells, " | "))
	}
}

func human(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 1e6:
		return trimZeros(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case v >= 1e3:
		return trimZeros(fmt.Sprintf("%.1f", v/1e3)) + "k"
	}
	return trimZeros(fmt.Sprintf("%.1f", v))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func fmtVal(v float64, unit string) string {
	switch {
	case math.IsNaN(v) || v < 0:
		return "–"
	case v >= 1e9 && unit == "ms":
		return "lost"
	}
	switch unit {
	case "rate":
		return human(v)
	case "ms":
		if v < 10 {
			return fmt.Sprintf("%.2f ms", v)
		}
		return fmt.Sprintf("%.0f ms", v)
	case "%":
		return fmt.Sprintf("%.0f%%", v)
	case "KB":
		return fmt.Sprintf("%.1f KB", v)
	case "MB":
		return fmt.Sprintf("%.0f MB", v)
	case "µs":
		if v < 10 {
			return fmt.Sprintf("%.1f µs", v)
		}
		return fmt.Sprintf("%.0f µs", v)
	}
	return fmt.Sprint(v)
}

func fmtList(vs []float64, unit string) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmtVal(v, unit)
		for _, u := range []string{" ms", " KB", " µs"} {
			parts[i] = strings.TrimSuffix(parts[i], u)
		}
	}
	return strings.Join(parts, " / ")
}
