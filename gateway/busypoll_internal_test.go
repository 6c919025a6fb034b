package gateway

import (
	"runtime"
	"testing"
)

func TestPollGate(t *testing.T) {
	g := newPollGate()
	for i := 0; i < 20; i++ { // a client on loopback: every poll pays
		if !g.want() {
			t.Fatalf("poll %d refused after only hits", i)
		}
		g.record(pollData)
	}
	if g.credit != pollCreditMax {
		t.Errorf("credit after hits = %d, want the cap %d", g.credit, pollCreditMax)
	}
	misses := 0
	for g.want() { // the client moves to a slow link: every poll times out
		g.record(pollTimeout)
		if misses++; misses > 10 {
			t.Fatal("still polling after 10 timeouts in a row")
		}
	}
	if misses != (pollCreditMax+pollMissCost-1)/pollMissCost {
		t.Errorf("stopped after %d timeouts, want %d", misses, (pollCreditMax+pollMissCost-1)/pollMissCost)
	}
	probes := 0
	for i := 0; i < 10*probeEvery; i++ {
		if g.want() {
			probes++
			g.record(pollTimeout)
		}
	}
	if probes != 10 {
		t.Errorf("%d probes in %d chances without credit, want 10", probes, 10*probeEvery)
	}
	g.record(pollStopped) // giving way says nothing about the client
	if g.credit > 0 {
		t.Errorf("credit %d after giving way, want none", g.credit)
	}
	for !g.want() { // the next probe hits: polling resumes
	}
	g.record(pollData)
	if !g.want() {
		t.Error("a probe that found data did not resume polling")
	}
}

func TestMaxFetching(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for procs, want := range map[int]int32{1: 0, 2: 1, 3: 1, 8: 4} {
		runtime.GOMAXPROCS(procs)
		if got := maxFetching(); got != want {
			t.Errorf("GOMAXPROCS %d: maxFetching() = %d, want %d", procs, got, want)
		}
	}
}
