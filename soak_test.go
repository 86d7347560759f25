package sio

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// relSoakCycle runs one connect/emit/disconnect cycle with a fresh client:
// it opens a session in mode, joins the main namespace, gets the welcome
// the server emits, has an event acknowledged, and leaves in one of four
// ways (by end): close as engine.io-client does, DISCONNECT first, vanish
// without a word, or close and wait for the server's last answer.
func relSoakCycle(c *relClient, mode string, i, end int) error {
	if err := c.openMode(mode); err != nil {
		return err
	}
	f, err := c.nextMsg()
	if err != nil {
		return fmt.Errorf("welcome: %w", err)
	}
	if !strings.HasPrefix(f.text, `42["welcome",`) {
		return fmt.Errorf("got %v; want the welcome", f)
	}
	if err := c.echo("/", strconv.Itoa(i)); err != nil {
		return err
	}
	switch end {
	case 0:
		c.close()
	case 1:
		if err := c.sendOK(relText("41")); err != nil {
			return err
		}
		c.close()
	case 2:
		c.abandon()
	case 3:
		if c.ws != nil {
			if err := c.sendOK(relText("1")); err != nil {
				return err
			}
			if err := c.waitClosed(); err != nil {
				return err
			}
			c.ws.Close()
			return nil
		}
		if err := c.sendOK(relText("1")); err != nil {
			return err
		}
		// The GET that follows a close is answered a noop, or refused
		// once the session is gone.
		f, err := c.next()
		if err == nil && f.text != "6" {
			return fmt.Errorf("GET after the close: %v; want a noop", f)
		}
	}
	return nil
}

// TestRelSoak runs 10,000 connect/emit/disconnect cycles (1,000 with
// -short) over long-polling, WebSocket and long-polling upgraded to
// WebSocket, by a bounded pool of concurrent clients, then checks that
// every session and socket ended, that the goroutines are back to the
// baseline, and that the heap is back near it.
func TestRelSoak(t *testing.T) {
	cycles := 10_000
	if testing.Short() {
		cycles = 1_000
	}
	const workers = 16
	log := relNewLog()
	rs := relStartServer(t, false, WithLogger(log.logger(slog.LevelWarn)),
		WithPingInterval(time.Second), WithPingTimeout(time.Second))
	rs.srv.OnConnect(func(ctx context.Context, s *Socket) { s.Emit("welcome", s.ID()) })

	settle := func() {
		t.Helper()
		relWaitUntil(t, "every session has ended", func() bool { return rs.sessions() == 0 })
		relWaitUntil(t, "every handler has returned", func() bool {
			rs.srv.running.mu.Lock()
			defer rs.srv.running.mu.Unlock()
			return rs.srv.running.n == 0
		})
		rs.hc.CloseIdleConnections()
	}
	// Warm up, so that what is allocated once (caches, pools, the maps'
	// buckets) is in the baseline, and wait until the warm-up's goroutines
	// are gone.
	idle := goleak.IgnoreCurrent()
	for i := range 4 * len(transportModes) {
		if err := relSoakCycle(rs.client(), transportModes[i%3], i, i/3%4); err != nil {
			t.Fatalf("warm-up cycle %d: %v", i, err)
		}
	}
	settle()
	relNoLeaks(t, idle)
	before := goleak.IgnoreCurrent()
	goroutinesBefore := runtime.NumGoroutine()
	heapBefore := relHeapInuse()
	rs.mu.Lock()
	warmDiscs := 0
	for _, n := range rs.reasons {
		warmDiscs += n
	}
	rs.mu.Unlock()

	var (
		next, failed atomic.Int64
		peak         atomic.Int64
		errMu        sync.Mutex
		errs         []string
		wg           sync.WaitGroup
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if n := int64(rs.sessions()); n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cycles {
					return
				}
				c := rs.client()
				if err := relSoakCycle(c, transportModes[i%3], i, i/3%4); err != nil {
					failed.Add(1)
					c.abandon()
					errMu.Lock()
					if len(errs) < 10 {
						errs = append(errs, fmt.Sprintf("cycle %d (%s): %v", i, transportModes[i%3], err))
					}
					errMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	settle()
	close(stop)
	<-sampled
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d cycles failed; first ones:\n%s", n, cycles, strings.Join(errs, "\n"))
	}
	relNoLeaks(t, before)
	goroutinesAfter := runtime.NumGoroutine()
	heapAfter := relHeapInuse()

	rs.mu.Lock()
	discs := -warmDiscs
	var byReason []string
	for r, n := range rs.reasons {
		discs += n
		byReason = append(byReason, fmt.Sprintf("%s: %d", r, n))
	}
	rs.mu.Unlock()
	if discs != cycles {
		t.Errorf("%d sockets disconnected; want one per cycle, %d", discs, cycles)
	}
	if log.errors > 0 {
		t.Errorf("%d warnings or errors logged:\n%s", log.errors, log.String())
	}
	t.Logf("soak: %d cycles (%d per mode: polling, websocket, upgrade) by %d concurrent clients in %v (%.0f cycles/s); peak %d sessions at once",
		cycles, cycles/3, workers, took.Round(time.Millisecond), float64(cycles)/took.Seconds(), peak.Load())
	t.Logf("soak: goroutines %d before, %d after; HeapInuse %s before, %s after; socket disconnections by reason (warm-up included): %s",
		goroutinesBefore, goroutinesAfter, relMiB(heapBefore), relMiB(heapAfter), strings.Join(byReason, ", "))
	if goroutinesAfter > goroutinesBefore {
		t.Errorf("goroutines: %d after; want the baseline, %d", goroutinesAfter, goroutinesBefore)
	}
	const tolerance = 2 << 20
	if heapAfter > heapBefore+tolerance {
		t.Errorf("HeapInuse %s after; want within %s of the baseline, %s", relMiB(heapAfter), relMiB(tolerance), relMiB(heapBefore))
	}
}
