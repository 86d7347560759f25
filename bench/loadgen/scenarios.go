package main

import (
	"context"
	"fmt"
	"log"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// dialer opens one client of the scenario's transport.
type dialer func(ctx context.Context, onPacket func([]byte)) (client, error)

func dialerFor(e *env, polling bool) dialer {
	if polling {
		return func(ctx context.Context, f func([]byte)) (client, error) { return dialPolling(ctx, e, f) }
	}
	return func(ctx context.Context, f func([]byte)) (client, error) { return dialWS(ctx, e, f) }
}

// connectMany opens clients [from, to) of cs, conc at a time, recording
// each one's time from the first byte of its handshake to the server's
// CONNECT in h (if not nil). It returns the number of failures.
func connectMany(ctx context.Context, cs []client, from, to, conc int, dial dialer,
	onPacket func(i int) func([]byte), h *hist) int {
	var next atomic.Int64
	next.Store(int64(from))
	var failed atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				var f func([]byte)
				if onPacket != nil {
					f = onPacket(i)
				}
				t0 := time.Now()
				dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				c, err := dial(dctx, f)
				cancel()
				if err != nil {
					failed.Add(1)
					firstErr.Do(func() { log.Printf("connect failed: %v", err) })
					continue
				}
				if h != nil {
					h.record(time.Since(t0))
				}
				cs[i] = c
			}
		}()
	}
	wg.Wait()
	return int(failed.Load())
}

func closeAll(cs []client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 200)
	for _, c := range cs {
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			c.close()
			<-sem
		}()
	}
	wg.Wait()
}

// ------------------------------------------------------------------ connect

func runConnect(ctx context.Context, cfg config, e *env, polling bool, res *Result) {
	res.Params["clients"] = cfg.n
	res.Params["concurrency"] = cfg.conc
	res.Params["transport"] = transportName(polling)
	cs := make([]client, cfg.n)
	var h hist
	srv := startCPU(cfg.pid)
	gen := startCPU(os.Getpid())
	t0 := time.Now()
	failed := connectMany(ctx, cs, 0, cfg.n, cfg.conc, dialerFor(e, polling), nil, &h)
	el := time.Since(t0)
	res.Metrics["server_cpu"] = srv.pct()
	res.Metrics["gen_cpu"] = gen.pct()
	ok := h.count()
	res.Errors = failed
	res.Metrics["connects_per_s"] = float64(ok) / el.Seconds()
	res.Metrics["p50_ms"] = h.quantile(0.50, ok)
	res.Metrics["p99_ms"] = h.quantile(0.99, ok)
	res.Metrics["duration_s"] = el.Seconds()
	log.Printf("%s %s: %d connected (%d failed) in %v: %.0f/s, p50 %.2f ms, p99 %.2f ms, server cpu %.0f%%, gen cpu %.0f%%",
		cfg.server, res.Scenario, ok, failed, el.Round(time.Millisecond), res.Metrics["connects_per_s"],
		res.Metrics["p50_ms"], res.Metrics["p99_ms"], res.Metrics["server_cpu"], res.Metrics["gen_cpu"])
	closeAll(cs)
}

func transportName(polling bool) string {
	if polling {
		return "polling"
	}
	return "websocket"
}

// --------------------------------------------------------------------- idle

func runIdle(ctx context.Context, cfg config, e *env, res *Result) {
	if cfg.pid == 0 {
		log.Fatal("idle needs -pid, the server's pid")
	}
	res.Params["sizes"] = cfg.sizes
	res.Params["transport"] = "websocket"
	if _, err := rssKB(cfg.pid); err != nil {
		log.Fatal(err)
	}
	base := settledRSS(ctx, cfg.pid, time.Second)
	res.Metrics["rss_base_mb"] = float64(base) / 1024
	total := 0
	for _, s := range cfg.sizes {
		if s > total {
			total = s
		}
	}
	cs := make([]client, total)
	have := 0
	for _, size := range cfg.sizes {
		if size <= have {
			continue
		}
		t0 := time.Now()
		res.Errors += connectMany(ctx, cs, have, size, cfg.conc, dialerFor(e, false), nil, nil)
		el := time.Since(t0)
		have = size
		n := 0
		for _, c := range cs[:size] {
			if c != nil {
				n++
			}
		}
		rss := settledRSS(ctx, cfg.pid, cfg.settle)
		per := float64(rss-base) / float64(n)
		res.Metrics["rss_mb_"+strconv.Itoa(size)] = float64(rss) / 1024
		res.Metrics["rss_per_conn_kb_"+strconv.Itoa(size)] = per
		res.Metrics["connected_"+strconv.Itoa(size)] = float64(n)
		log.Printf("%s idle: %d connected in %v; RSS %d KB (base %d KB): %.1f KB per connection",
			cfg.server, n, el.Round(time.Millisecond), rss, base, per)
		// A second reading after a forced full collection in the server
		// (its /gc endpoint): the live memory, without the garbage the
		// connection storm left for a collector that an idle server does
		// not run.
		if err := forceGC(ctx, cfg.host); err != nil {
			log.Printf("no forced GC: %v", err)
			continue
		}
		rss = settledRSS(ctx, cfg.pid, time.Second)
		per = float64(rss-base) / float64(n)
		res.Metrics["rss_per_conn_kb_"+strconv.Itoa(size)+"_gc"] = per
		log.Printf("%s idle: after a forced GC, RSS %d KB: %.1f KB per connection", cfg.server, rss, per)
		if ctx.Err() != nil {
			break
		}
	}
	if cfg.hold > 0 {
		log.Printf("holding the connections for %v", cfg.hold)
		sleepCtx(ctx, cfg.hold)
	}
	closeAll(cs)
}

func forceGC(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := httpDo(ctx, http.DefaultClient, http.MethodGet, "http://"+host+"/gc", nil)
	return err
}

// settledRSS waits at least min, then until the server's RSS changes by
// less than 1% in a second (at most 10 s more), and returns it in KB.
func settledRSS(ctx context.Context, pid int, min time.Duration) int64 {
	sleepCtx(ctx, min)
	prev, _ := rssKB(pid)
	for range 10 {
		sleepCtx(ctx, time.Second)
		cur, _ := rssKB(pid)
		if math.Abs(float64(cur-prev)) < 0.01*float64(prev) || ctx.Err() != nil {
			return cur
		}
		prev = cur
	}
	return prev
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// rssKB reads VmRSS from /proc/<pid>/status.
func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cpuMeter measures a process's CPU time (user+system, all threads) over
// an interval, from /proc/<pid>/stat.
type cpuMeter struct {
	pid   int
	t0    time.Time
	ticks int64
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, t0: time.Now()}
	m.ticks, _ = cpuTicks(pid)
	return m
}

// pct returns the CPU used since start, in % of one core (NaN without a pid).
func (m *cpuMeter) pct() float64 {
	if m.pid == 0 {
		return math.NaN()
	}
	t, err := cpuTicks(m.pid)
	if err != nil {
		return math.NaN()
	}
	const clkTck = 100 // USER_HZ on Linux
	return float64(t-m.ticks) / clkTck / time.Since(m.t0).Seconds() * 100
}

func cpuTicks(pid int) (int64, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, nil
}

// ------------------------------------------------------------ stepped runs

// stepState collects the arrivals of the current step; arrivals carry the
// step's id in their payload, so late ones of an earlier step are told
// apart.
type stepState struct {
	id   int64
	h    hist
	recv atomic.Uint64
}

type stepper struct {
	cfg       config
	e         *env
	cur       atomic.Pointer[stepState]
	stray     atomic.Uint64
	sentTotal atomic.Uint64 // deliveries expected, all steps
	recvTotal atomic.Uint64 // deliveries received, all steps
}

// arrived records one delivery carrying payload p.
func (s *stepper) arrived(p []byte) {
	s.recvTotal.Add(1)
	id, ok1 := fieldInt(p, keyStep)
	t, ok2 := fieldInt(p, keyTime)
	st := s.cur.Load()
	if !ok1 || !ok2 || st == nil || id != st.id {
		s.stray.Add(1)
		return
	}
	st.h.record(time.Duration(s.e.now() - t))
	st.recv.Add(1)
}

// pace calls send rate*d times in d, at rate per second, on this goroutine,
// catching up in bursts when it falls behind; it returns the number of sends.
func pace(ctx context.Context, rate float64, d time.Duration, send func()) uint64 {
	total := uint64(rate * d.Seconds())
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var sent uint64
	for sent < total && ctx.Err() == nil {
		due := min(total, uint64(rate*time.Since(start).Seconds())+1)
		for sent < due {
			send()
			sent++
		}
		if sent < total {
			<-tick.C
		}
	}
	return sent
}

// run runs the steps: at each rate, send is paced for the step's duration;
// every send is worth fan deliveries. A step fails when fewer than 95% of
// the offered deliveries arrive within the step plus the grace time, or
// when their p99 (lost ones counting as late) is over the bound; the steps
// stop at the first failure above cfg.mustRun.
func (s *stepper) run(ctx context.Context, fan int, send func(st *stepState)) []Step {
	cfg := s.cfg
	var steps []Step
	// Warm-up at the first rate, not recorded.
	if len(cfg.rates) > 0 {
		st := &stepState{id: 0}
		s.cur.Store(st)
		n := pace(ctx, cfg.rates[0], time.Second, func() { send(st) })
		s.sentTotal.Add(n * uint64(fan))
		s.drain(ctx, 5*time.Second)
	}
	id := int64(0)
	attempt := 1
	for i := 0; i < len(cfg.rates); i++ {
		rate := cfg.rates[i]
		if ctx.Err() != nil {
			break
		}
		s.drain(ctx, 5*time.Second)
		id++
		st := &stepState{id: id}
		s.cur.Store(st)
		stray0 := s.stray.Load()
		srv := startCPU(cfg.pid)
		gen := startCPU(os.Getpid())
		n := pace(ctx, rate, cfg.stepDur, func() { send(st) })
		srvCPU, genCPU := srv.pct(), gen.pct()
		s.sentTotal.Add(n * uint64(fan))
		offered := uint64(rate * cfg.stepDur.Seconds() * float64(fan))
		deadline := time.Now().Add(cfg.grace)
		for st.recv.Load() < offered && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		got := st.recv.Load()
		d := cfg.stepDur.Seconds()
		step := Step{
			Rate:      rate,
			Offered:   float64(offered) / d,
			Delivered: float64(got) / d,
			Fraction:  float64(got) / float64(offered),
			P50:       st.h.quantile(0.50, offered),
			P99:       st.h.quantile(0.99, offered),
			P999:      st.h.quantile(0.999, offered),
			ServerCPU: srvCPU,
			GenCPU:    genCPU,
			Stray:     s.stray.Load() - stray0,
			Sent:      n,
			Dur:       d,
			Bound:     float64(cfg.p99Bound) / float64(time.Millisecond),
		}
		step.OK = step.Fraction >= 0.95 && step.P99 <= step.Bound
		verdict := "ok"
		if !step.OK {
			verdict = "FAIL"
		}
		log.Printf("%s %s step %g/s: offered %.0f/s delivered %.0f/s (%.1f%%) p50 %.2f p99 %.2f p999 %.2f ms, server cpu %.0f%%, gen cpu %.0f%%: %s",
			cfg.server, cfg.scenario, rate, step.Offered, step.Delivered, 100*step.Fraction,
			step.P50, step.P99, step.P999, step.ServerCPU, step.GenCPU, verdict)
		// A failed step is run once more before it counts: on a shared
		// machine a stall of another process's making can spoil one.
		if !step.OK && attempt < cfg.attempts {
			attempt++
			i--
			continue
		}
		step.Attempts = attempt
		attempt = 1
		steps = append(steps, step)
		if !step.OK && rate >= cfg.mustRun {
			break
		}
	}
	s.cur.Store(nil)
	return steps
}

// drain waits until every delivery sent so far has arrived, or for max.
func (s *stepper) drain(ctx context.Context, max time.Duration) {
	deadline := time.Now().Add(max)
	for s.recvTotal.Load() < s.sentTotal.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
}

// highest returns the highest step that held.
func highest(steps []Step) (Step, bool) {
	var best Step
	found := false
	for _, st := range steps {
		if st.OK && (!found || st.Offered > best.Offered) {
			best, found = st, true
		}
	}
	return best, found
}

// JSON has no NaN or Inf: they are written as -1 (not measured) and 1e9
// (lost).
func finite(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return -1
	case math.IsInf(v, 0):
		return 1e9
	}
	return v
}

func cleanSteps(steps []Step) {
	for i := range steps {
		st := &steps[i]
		st.P50, st.P99, st.P999 = finite(st.P50), finite(st.P99), finite(st.P999)
		st.ServerCPU, st.GenCPU = finite(st.ServerCPU), finite(st.GenCPU)
	}
}

func cleanMetrics(m map[string]float64) {
	for k, v := range m {
		m[k] = finite(v)
	}
}

// ------------------------------------------------------------------- fanout

func runFanout(ctx context.Context, cfg config, e *env, res *Result) {
	res.Params["clients"] = cfg.n
	res.Params["transport"] = "websocket"
	res.Params["step_s"] = cfg.stepDur.Seconds()
	res.Params["p99_bound_ms"] = cfg.p99Bound.Milliseconds()
	s := &stepper{cfg: cfg, e: e}
	onPacket := func(int) func([]byte) {
		return func(p []byte) {
			if len(p) > 0 && p[0] == '2' {
				s.arrived(p)
			}
		}
	}
	cs := make([]client, cfg.n)
	res.Errors = connectMany(ctx, cs, 0, cfg.n, cfg.conc, dialerFor(e, false), onPacket, nil)
	defer closeAll(cs)
	receivers := 0
	for _, c := range cs {
		if c != nil {
			receivers++
		}
	}
	if receivers == 0 {
		res.Note = "no client connected"
		return
	}
	res.Params["receivers"] = receivers
	sender := cs[0]
	for i := 0; sender == nil; i++ {
		sender = cs[i]
	}
	pad := strings.Repeat("x", cfg.pad)
	var buf []byte
	steps := s.run(ctx, receivers, func(st *stepState) {
		buf = appendEvent(buf[:0], -1, "broadcast", int(st.id), e.now(), pad)
		sender.send(buf)
	})
	if best, ok := highest(steps); ok {
		res.Metrics["deliveries_per_s"] = best.Delivered
		res.Metrics["rate_broadcasts_per_s"] = best.Rate
		res.Metrics["p50_ms"] = best.P50
		res.Metrics["p99_ms"] = best.P99
		res.Metrics["server_cpu"] = best.ServerCPU
		res.Metrics["gen_cpu"] = best.GenCPU
	} else {
		res.Metrics["deliveries_per_s"] = 0
	}
	cleanSteps(steps)
	cleanMetrics(res.Metrics)
	res.Steps = steps
}

// ----------------------------------------------------------------- echo-ack

func runEcho(ctx context.Context, cfg config, e *env, polling bool, res *Result) {
	res.Params["clients"] = cfg.n
	res.Params["transport"] = transportName(polling)
	res.Params["step_s"] = cfg.stepDur.Seconds()
	res.Params["p99_bound_ms"] = cfg.p99Bound.Milliseconds()
	s := &stepper{cfg: cfg, e: e}
	onPacket := func(int) func([]byte) {
		return func(p []byte) {
			if len(p) > 0 && p[0] == '3' {
				s.arrived(p)
			}
		}
	}
	cs := make([]client, cfg.n)
	res.Errors = connectMany(ctx, cs, 0, cfg.n, cfg.conc, dialerFor(e, polling), onPacket, nil)
	defer closeAll(cs)
	var live []client
	for _, c := range cs {
		if c != nil {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		res.Note = "no client connected"
		return
	}
	ids := make([]int64, len(live))
	pad := strings.Repeat("x", cfg.pad)
	var buf []byte
	next := 0
	steps := s.run(ctx, 1, func(st *stepState) {
		i := next
		next = (next + 1) % len(live)
		buf = appendEvent(buf[:0], ids[i], "echo", int(st.id), e.now(), pad)
		ids[i]++
		live[i].send(buf)
	})
	if best, ok := highest(steps); ok {
		res.Metrics["acks_per_s"] = best.Delivered
		res.Metrics["rate_per_s"] = best.Rate
		res.Metrics["p50_ms"] = best.P50
		res.Metrics["p99_ms"] = best.P99
		res.Metrics["server_cpu"] = best.ServerCPU
		res.Metrics["gen_cpu"] = best.GenCPU
	} else {
		res.Metrics["acks_per_s"] = 0
	}
	for _, st := range steps {
		if st.Rate == 20000 {
			res.Metrics["p50_ms_20k"] = st.P50
			res.Metrics["p99_ms_20k"] = st.P99
			res.Metrics["p999_ms_20k"] = st.P999
			res.Metrics["acks_per_s_20k"] = st.Delivered
		}
	}
	cleanSteps(steps)
	cleanMetrics(res.Metrics)
	res.Steps = steps
}
