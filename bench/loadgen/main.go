// Command loadgen is the load generator of the sio benchmarks (see
// BENCHMARKS.md and bench/run.sh). It speaks Socket.IO v5 over Engine.IO v4
// as socket.io-client does, over WebSocket (a client of its own, client.go)
// or HTTP long-polling, and drives one scenario against one server:
//
//	loadgen connect          -url http://127.0.0.1:3000 [-n 2000 -c 50]
//	loadgen connect-polling  ...
//	loadgen idle             -pid SERVER_PID [-sizes 2000,10000]
//	loadgen fanout           [-n 1000 -rates 20,50,...]
//	loadgen echo-ack         [-n 100 -rates 2000,...,20000,...]
//	loadgen echo-ack-polling ...
//	loadgen report           -in results.jsonl [-splice BENCHMARKS.md]
//
// Each scenario appends one JSON line with its figures to -out (stdout by
// default); report turns those lines into the markdown table of medians and
// Go/Node ratios.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

type config struct {
	scenario string
	host     string
	server   string
	round    int
	pid      int
	out      string
	timeout  time.Duration

	n        int
	conc     int
	sources  int
	rates    []float64
	stepDur  time.Duration
	grace    time.Duration
	p99Bound time.Duration
	mustRun  float64
	attempts int
	pad      int
	sizes    []int
	settle   time.Duration
	hold     time.Duration
}

// Result is one scenario run against one server: one line of the results
// file.
type Result struct {
	Scenario string             `json:"scenario"`
	Server   string             `json:"server"`
	Round    int                `json:"round"`
	Time     string             `json:"time"`
	Params   map[string]any     `json:"params"`
	Metrics  map[string]float64 `json:"metrics"`
	Steps    []Step             `json:"steps,omitempty"`
	Errors   int                `json:"errors"`
	Note     string             `json:"note,omitempty"`
}

// Step is one offered rate of a stepped scenario.
type Step struct {
	Rate      float64 `json:"rate"`         // sends per second (broadcasts or acked emits)
	Offered   float64 `json:"offered"`      // deliveries (or acks) per second offered
	Delivered float64 `json:"delivered"`    // deliveries (or acks) per second received in time
	Fraction  float64 `json:"fraction"`     // received / offered
	P50       float64 `json:"p50_ms"`       // latency quantiles, lost messages counted as late
	P99       float64 `json:"p99_ms"`       //
	P999      float64 `json:"p999_ms"`      //
	ServerCPU float64 `json:"server_cpu"`   // % of one core while sending
	GenCPU    float64 `json:"gen_cpu"`      // the generator's own, % of one core
	OK        bool    `json:"ok"`           // fraction >= 0.95 and p99 <= bound
	Stray     uint64  `json:"stray"`        // late arrivals of earlier steps
	Sent      uint64  `json:"sent"`         // sends actually made
	Dur       float64 `json:"duration_s"`   //
	Bound     float64 `json:"p99_bound_ms"` //
	Attempts  int     `json:"attempts"`     // 2 when the step was run again after failing
}

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("loadgen: ")
	if len(os.Args) < 2 {
		usage()
	}
	cmd := os.Args[1]
	if cmd == "report" {
		report(os.Args[2:])
		return
	}
	defaults, ok := scenarioDefaults[cmd]
	if !ok {
		usage()
	}
	cfg := parseFlags(cmd, defaults, os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	// A hard stop in case a scenario does not honour its context.
	time.AfterFunc(cfg.timeout+30*time.Second, func() {
		log.Print("hard timeout")
		os.Exit(3)
	})

	e := newEnv(cfg.host, cfg.sources)
	if err := waitReady(ctx, e); err != nil {
		log.Fatalf("server at %s not ready: %v", cfg.host, err)
	}
	res := Result{
		Scenario: cmd, Server: cfg.server, Round: cfg.round,
		Time:    time.Now().UTC().Format(time.RFC3339),
		Metrics: map[string]float64{},
		Params:  map[string]any{},
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.Params["loadavg"] = strings.TrimSpace(string(b))
	}
	switch cmd {
	case "connect":
		runConnect(ctx, cfg, e, false, &res)
	case "connect-polling":
		runConnect(ctx, cfg, e, true, &res)
	case "idle":
		runIdle(ctx, cfg, e, &res)
	case "fanout":
		runFanout(ctx, cfg, e, &res)
	case "echo-ack":
		runEcho(ctx, cfg, e, false, &res)
	case "echo-ack-polling":
		runEcho(ctx, cfg, e, true, &res)
	}
	cleanMetrics(res.Metrics)
	line, err := json.Marshal(res)
	if err != nil {
		log.Fatal(err)
	}
	if cfg.out == "" || cfg.out == "-" {
		fmt.Println(string(line))
		return
	}
	f, err := os.OpenFile(cfg.out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(f, string(line))
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: loadgen connect|connect-polling|idle|fanout|echo-ack|echo-ack-polling [flags]\n       loadgen report [flags]")
	os.Exit(2)
}

type defaults struct {
	n       int
	conc    int
	rates   string
	mustRun float64
}

var scenarioDefaults = map[string]defaults{
	"connect":          {n: 3000, conc: 50},
	"connect-polling":  {n: 2000, conc: 50},
	"idle":             {conc: 100},
	"fanout":           {n: 1000, conc: 100, rates: "5,10,20,50,100,150,200,300,400,600,800,1000,1500,2000,3000"},
	"echo-ack":         {n: 100, conc: 100, rates: "1000,2000,5000,10000,20000,30000,40000,50000,60000,80000,100000,120000,150000,200000,250000,300000", mustRun: 20000},
	"echo-ack-polling": {n: 100, conc: 100, rates: "500,1000,2000,5000,10000,15000,20000,30000,40000,60000"},
}

func parseFlags(cmd string, d defaults, args []string) config {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	var cfg config
	addr := fs.String("url", "http://127.0.0.1:3000", "the server's base URL")
	fs.StringVar(&cfg.server, "server", "", "label of the server in the results (go, node)")
	fs.IntVar(&cfg.round, "round", 0, "round number, recorded in the results")
	fs.IntVar(&cfg.pid, "pid", 0, "the server's pid, for its RSS (idle) and CPU use")
	fs.StringVar(&cfg.out, "out", "", "append the JSON result line to this file (default stdout)")
	fs.DurationVar(&cfg.timeout, "timeout", 4*time.Minute, "bound on the whole scenario")
	fs.IntVar(&cfg.n, "n", d.n, "clients")
	fs.IntVar(&cfg.conc, "c", d.conc, "clients connecting at once")
	fs.IntVar(&cfg.sources, "sources", 8, "loopback source addresses to dial from (127.0.0.1...)")
	rates := fs.String("rates", d.rates, "stepped send rates per second (fanout: broadcasts/s; echo: acked emits/s)")
	fs.DurationVar(&cfg.stepDur, "step", 3*time.Second, "duration of each rate step")
	fs.DurationVar(&cfg.grace, "grace", time.Second, "time after a step for late arrivals to count")
	fs.DurationVar(&cfg.p99Bound, "p99-bound", 50*time.Millisecond, "a step with a higher p99 fails")
	fs.Float64Var(&cfg.mustRun, "must-run", d.mustRun, "steps up to this rate run even after a failed step")
	fs.IntVar(&cfg.attempts, "attempts", 2, "runs of a failing step before it counts as failed")
	fs.IntVar(&cfg.pad, "pad", 64, "padding bytes in each payload")
	sizes := fs.String("sizes", "2000,10000", "idle: connection counts to measure at, cumulative")
	fs.DurationVar(&cfg.settle, "settle", 3*time.Second, "idle: minimum wait before reading RSS")
	fs.DurationVar(&cfg.hold, "hold", 0, "idle: keep the connections this long after the last reading (for profiling)")
	fs.Parse(args)
	cfg.scenario = cmd
	u, err := url.Parse(*addr)
	if err != nil || u.Host == "" {
		log.Fatalf("bad -url %q", *addr)
	}
	cfg.host = u.Host
	for _, f := range strings.Split(*rates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			log.Fatalf("bad rate %q", f)
		}
		cfg.rates = append(cfg.rates, v)
	}
	for _, f := range strings.Split(*sizes, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			log.Fatalf("bad size %q", f)
		}
		cfg.sizes = append(cfg.sizes, v)
	}
	return cfg
}

// waitReady waits until the server answers an Engine.IO handshake.
func waitReady(ctx context.Context, e *env) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := dialWS(ctx, e, nil) // over WebSocket, which the raw ceiling speaks too
		if err == nil {
			c.close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
