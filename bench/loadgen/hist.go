package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a log-linear latency histogram in microseconds, safe for
// concurrent use: 64 linear sub-buckets per power of two, so a recorded
// value is off by at most 1/64 (1.6%).
type hist struct {
	counts [64 * 48]atomic.Uint64
	n      atomic.Uint64
}

const histSub = 64

func histBucket(us uint64) int {
	if us < histSub {
		return int(us)
	}
	e := bits.Len64(us) - 7 // us>>e is in [64, 127]
	i := (e+1)*histSub + int(us>>e) - histSub
	if i >= 64*48 {
		i = 64*48 - 1
	}
	return i
}

// histValue is the middle of bucket i, in microseconds.
func histValue(i int) float64 {
	if i < histSub {
		return float64(i)
	}
	e := i/histSub - 1
	m := uint64(i%histSub + histSub)
	lo := m << e
	hi := (m + 1) << e
	return float64(lo+hi) / 2
}

func (h *hist) record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[histBucket(uint64(us))].Add(1)
	h.n.Add(1)
}

func (h *hist) count() uint64 { return h.n.Load() }

// quantile returns the q-quantile in milliseconds of total values, of which
// those never recorded (lost) count as infinitely late: with total larger
// than the count recorded, a high quantile can be +Inf.
func (h *hist) quantile(q float64, total uint64) float64 {
	if total == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return histValue(i) / 1000
		}
	}
	return math.Inf(1)
}
