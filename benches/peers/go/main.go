// Go peer of the gort benchmark suite: `gopeer <workload> <size args>`.
// Prints one line `RESULT workload=... value=... unit=...` (or LISTENING for
// the server workloads, which run until killed). Workers: GOMAXPROCS, set by
// the runner. Also holds the TCP echo client used against every peer's server.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// httpResponse is the fixed http_hello response (same bytes in every peer).
var httpResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")

const echoMsg = 64

func report(workload string, value float64, unit string) {
	fmt.Printf("RESULT workload=%s value=%.3f unit=%s\n", workload, value, unit)
}

func arg(i int) int {
	if len(os.Args) <= i+1 {
		panic(fmt.Sprintf("missing argument #%d in %v", i, os.Args[1:]))
	}
	v, err := strconv.Atoi(os.Args[i+1])
	if err != nil {
		panic(err)
	}
	return v
}

func rssBytes() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, err := strconv.ParseUint(strings.Fields(line)[1], 10, 64)
			if err != nil {
				panic(err)
			}
			return kb * 1024
		}
	}
	panic("no VmRSS")
}

func raiseNofile() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}

var sink uint64

// spin is the fixed integer loop of fanout_compute (xorshift64, identical to
// the Rust programs' common::spin).
//
//go:noinline
func spin(iters int) uint64 {
	x := uint64(0x9E3779B97F4A7C15)
	for i := 0; i < iters; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// calibrateItersPerMs: iterations of spin taking 1 ms on this goroutine
// (double until one run >= 20 ms, then the fastest of three runs).
func calibrateItersPerMs() int {
	n := 1 << 12
	for {
		t := time.Now()
		sink += spin(n)
		if time.Since(t) >= 20*time.Millisecond {
			break
		}
		n *= 2
	}
	best := time.Duration(1 << 62)
	for i := 0; i < 3; i++ {
		t := time.Now()
		sink += spin(n)
		if d := time.Since(t); d < best {
			best = d
		}
	}
	v := int(float64(n) / (best.Seconds() * 1e3))
	if v < 1 {
		v = 1
	}
	return v
}

func main() {
	raiseNofile()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gopeer <workload> <args>")
		os.Exit(2)
	}
	switch w := os.Args[1]; w {
	case "spawn_join":
		spawnJoin(arg(1))
	case "yield_switch":
		yieldSwitch(arg(1))
	case "chan_pingpong":
		chanPingpong(arg(1))
	case "ring", "ring_small":
		// ring_small is gort's ring on 16 KiB stacks; Go's stacks start at 8 KiB anyway.
		ring(w, arg(1), arg(2))
	case "idle_memory":
		idleMemory(arg(1))
	case "park_own":
		parkOwn(arg(1), arg(2))
	case "deep_park":
		deepPark(arg(1), arg(2), arg(3))
	case "fanout_compute":
		fanoutCompute(arg(1), arg(2))
	case "blocking_syscall":
		blockingSyscall(arg(1), arg(2), arg(3))
	case "tcp_echo_server":
		serve(handleEcho)
	case "http_server":
		serve(handleHTTP)
	case "mutex_contended":
		mutexContended(arg(1), arg(2))
	case "sleep_wakeups":
		sleepWakeups(arg(1), arg(2), arg(3))
	case "context_cancel":
		contextCancel(arg(1), arg(2), arg(3))
	case "pool":
		pool(arg(1))
	case "errgroup":
		errgroupMembers(arg(1), arg(2))
	case "select8":
		select8(arg(1), false)
	case "select8_dyn":
		select8(arg(1), true)
	case "timer_churn":
		timerChurn(arg(1))
	case "tcp_echo_client":
		tcpEchoClient(os.Args[2], arg(2), arg(3))
	case "http_service":
		httpService(addrFlag())
	case "redis_service":
		redisService(addrFlag())
	case "ws_chat_service":
		wsChatService(addrFlag())
	default:
		fmt.Printf("RESULT workload=%s unsupported=1\n", w)
	}
}

func spawnJoin(n int) {
	out := make([]int, n)
	var wg sync.WaitGroup
	t := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			out[i] = i
			wg.Done()
		}(i)
	}
	wg.Wait()
	el := time.Since(t)
	if out[n-1] != n-1 {
		panic("spawn_join: lost result")
	}
	report("spawn_join", float64(el.Nanoseconds())/float64(n), "ns/task")
}

func yieldSwitch(n int) {
	perTask := n / 2
	var wg sync.WaitGroup
	t := time.Now()
	wg.Add(2)
	for k := 0; k < 2; k++ {
		go func() {
			for i := 0; i < perTask; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	report("yield_switch", float64(time.Since(t).Nanoseconds())/float64(2*perTask), "ns/switch")
}

func chanPingpong(n int) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		if <-pong != i {
			panic("chan_pingpong: wrong value")
		}
	}
	el := time.Since(t)
	close(ping)
	report("chan_pingpong", float64(el.Nanoseconds())/float64(n), "ns/roundtrip")
}

func ring(name string, tasks, hops int) {
	chs := make([]chan int, tasks)
	for i := range chs {
		chs[i] = make(chan int)
	}
	done := make(chan struct{})
	for i := 0; i < tasks; i++ {
		go func(in, next chan int) {
			for left := range in {
				if left == 0 {
					done <- struct{}{}
					return
				}
				next <- left - 1
			}
		}(chs[i], chs[(i+1)%tasks])
	}
	t := time.Now()
	chs[0] <- hops
	<-done
	report(name, float64(time.Since(t).Nanoseconds())/float64(hops), "ns/hop")
}

func idleMemory(n int) {
	gate := make(chan struct{})
	var parked atomic.Int64
	var wg sync.WaitGroup
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	before := rssBytes()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			parked.Add(1)
			<-gate
			wg.Done()
		}()
	}
	for parked.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	after := rssBytes()
	var diff uint64
	if after > before {
		diff = after - before
	}
	report("idle_memory", float64(diff)/float64(n), "bytes/task")
	close(gate)
	wg.Wait()
}

func fanoutCompute(tasks, ms int) {
	iters := calibrateItersPerMs() * ms
	var wg sync.WaitGroup
	var acc atomic.Uint64
	t := time.Now()
	wg.Add(tasks)
	for i := 0; i < tasks; i++ {
		go func() {
			acc.Add(spin(iters))
			wg.Done()
		}()
	}
	wg.Wait()
	ideal := float64(tasks*ms) / 1e3 / float64(runtime.GOMAXPROCS(0))
	sink += acc.Load()
	report("fanout_compute", time.Since(t).Seconds()/ideal, "wall/ideal")
}

func blockingSyscall(tasks, ms, yields int) {
	// A real blocking nanosleep(2) (not time.Sleep): the runtime must hand
	// the P off while the thread sleeps.
	var wg sync.WaitGroup
	wg.Add(tasks)
	for i := 0; i < tasks; i++ {
		go func() {
			ts := syscall.NsecToTimespec(int64(ms) * int64(time.Millisecond))
			_ = syscall.Nanosleep(&ts, nil)
			wg.Done()
		}()
	}
	t := time.Now()
	lat := make(chan time.Duration)
	go func() {
		for i := 0; i < yields; i++ {
			runtime.Gosched()
		}
		lat <- time.Since(t)
	}()
	l := <-lat
	wg.Wait()
	report("blocking_syscall", l.Seconds()*1e3, "ms")
}

func serve(handle func(net.Conn)) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("LISTENING port=%d\n", l.Addr().(*net.TCPAddr).Port)
	for {
		c, err := l.Accept()
		if err != nil {
			panic(err)
		}
		go handle(c)
	}
}

func handleEcho(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func handleHTTP(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	var pending, out []byte
	sep := []byte("\r\n\r\n")
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		pending = append(pending, buf[:n]...)
		out = out[:0]
		for {
			i := bytes.Index(pending, sep)
			if i < 0 {
				break
			}
			pending = pending[i+4:]
			out = append(out, httpResponse...)
		}
		pending = append([]byte(nil), pending...)
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

func mutexContended(tasks, iters int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	t := time.Now()
	wg.Add(tasks)
	for i := 0; i < tasks; i++ {
		go func() {
			for k := 0; k < iters; k++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(t)
	if counter != tasks*iters {
		panic("mutex_contended: lost increments")
	}
	report("mutex_contended", float64(el.Nanoseconds())/float64(tasks*iters), "ns/op")
}

// cpuNs is this process's CPU time (user + system) in nanoseconds.
func cpuNs() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// sleepWakeups: `tasks` goroutines each sleeping `ms` in a loop; CPU per wakeup over a window of
// `windowMs` after a warm-up of the same length (as sleep_wakeups_window in common.rs).
func sleepWakeups(tasks, ms, windowMs int) {
	var count atomic.Int64
	d := time.Duration(ms) * time.Millisecond
	for i := 0; i < tasks; i++ {
		go func() {
			for {
				time.Sleep(d)
				count.Add(1)
			}
		}()
	}
	w := time.Duration(windowMs) * time.Millisecond
	time.Sleep(w)
	c0, n0 := cpuNs(), count.Load()
	time.Sleep(w)
	c1, n1 := cpuNs(), count.Load()
	n := n1 - n0
	if n < 1 {
		n = 1
	}
	report("sleep_wakeups", float64(c1-c0)/float64(n), "ns_cpu/wakeup")
}

// tcpEchoClient opens `conns` connections (sequentially, so no server's
// listen backlog overflows), then runs `rounds` 64-byte round trips on each,
// all connections concurrently; reports round trips per second.
func tcpEchoClient(addr string, conns, rounds int) {
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			panic(fmt.Sprintf("dial %d: %v", i, err))
		}
		cs[i] = c
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Add(conns)
	for _, c := range cs {
		go func(c net.Conn) {
			defer wg.Done()
			msg := bytes.Repeat([]byte{'x'}, echoMsg)
			got := make([]byte, echoMsg)
			<-start
			for r := 0; r < rounds; r++ {
				if _, err := c.Write(msg); err != nil {
					panic(err)
				}
				if _, err := io.ReadFull(c, got); err != nil {
					panic(err)
				}
			}
			c.Close()
		}(c)
	}
	t := time.Now()
	close(start)
	wg.Wait()
	report("tcp_echo", float64(conns*rounds)/time.Since(t).Seconds(), "rt/s")
}

// ownChans makes n unbuffered channels, then settles the heap and reads the RSS (the
// baseline of parkOwn and deepPark, which exclude the channels' cost).
func ownChans(n int) ([]chan int, uint64) {
	chans := make([]chan int, n)
	for i := range chans {
		chans[i] = make(chan int)
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	return chans, rssBytes()
}

// parkOwn: n goroutines, each parked on its own unbuffered channel (created before the
// measurement, so their cost is excluded). mode 0 reports RSS growth per goroutine, mode 1 the
// time to spawn all of them and see them all started (about to park), per goroutine.
func parkOwn(n, mode int) {
	chans, before := ownChans(n)
	var started int64
	var wg sync.WaitGroup
	wg.Add(n)
	t := time.Now()
	for i := 0; i < n; i++ {
		c := chans[i]
		go func() {
			atomic.AddInt64(&started, 1)
			<-c
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&started) < int64(n) {
		runtime.Gosched()
	}
	el := time.Since(t)
	time.Sleep(20 * time.Millisecond)
	after := rssBytes()
	if mode == 0 {
		report("park_own_memory", float64(after-before)/float64(n), "bytes/task")
	} else {
		report("park_own_time", float64(el.Nanoseconds())/float64(n), "ns/task")
	}
	for _, c := range chans {
		c <- 1
	}
	wg.Wait()
}

// contextCancel: `rounds` times, a cancellable root, n contexts derived from it (shape 0: a
// chain, BenchmarkCancelTree's buildContextTree; shape 1: a tree of fan-out 10), one cancel of
// the root. ns per context (build + cancel; the GC of the garbage runs when it runs).
func contextCancel(n, shape, rounds int) {
	t := time.Now()
	for r := 0; r < rounds; r++ {
		root, cancel := context.WithCancel(context.Background())
		var leaves []context.Context
		// Kept and called after the root's cancel, as idiomatic Go defers them (and as
		// gort_work keeps its handles, whose drop is the same call).
		cancels := make([]context.CancelFunc, 0, n)
		if shape == 0 {
			ctx := root
			for d := 0; d < n; d++ {
				var c context.CancelFunc
				ctx, c = context.WithCancel(ctx)
				cancels = append(cancels, c)
			}
			leaves = append(leaves, ctx)
		} else {
			level := []context.Context{root}
			made := 0
			for made < n {
				next := make([]context.Context, 0, len(level)*10)
				for _, p := range level {
					for k := 0; k < 10 && made < n; k++ {
						c, cf := context.WithCancel(p)
						cancels = append(cancels, cf)
						next = append(next, c)
						made++
					}
				}
				level = next
			}
			leaves = level
		}
		cancel()
		for _, c := range leaves {
			if c.Err() == nil {
				panic("context_cancel: a leaf was not cancelled")
			}
		}
		for _, c := range cancels {
			c()
		}
	}
	name := "context_chain"
	if shape != 0 {
		name = "context_tree"
	}
	report(name, float64(time.Since(t).Nanoseconds())/float64(n*rounds), "ns/context")
}

// pool is BenchmarkPool (src/sync/pool_test.go): GOMAXPROCS goroutines, each ops times
// Put(1) then Get() on one sync.Pool; wall time per pair over all of them (RunParallel's ns/op).
func pool(ops int) {
	var p sync.Pool
	workers := runtime.GOMAXPROCS(0)
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < ops; i++ {
				p.Put(1)
				p.Get()
			}
		}()
	}
	t := time.Now()
	close(start)
	wg.Wait()
	report("pool", float64(time.Since(t).Nanoseconds())/float64(workers*ops), "ns/op")
}

// errGroup is golang.org/x/sync/errgroup's Group (WithContext, Go, Wait) in its shape: a
// WaitGroup, the first error under a sync.Once, and WithCancelCause. (x/sync is not in the Go
// toolchain and the runner builds offline.)
type errGroup struct {
	cancel  func(error)
	wg      sync.WaitGroup
	errOnce sync.Once
	err     error
}

func withContext(ctx context.Context) (*errGroup, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	return &errGroup{cancel: cancel}, ctx
}

func (g *errGroup) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.errOnce.Do(func() {
				g.err = err
				if g.cancel != nil {
					g.cancel(g.err)
				}
			})
		}
	}()
}

func (g *errGroup) Wait() error {
	g.wg.Wait()
	if g.cancel != nil {
		g.cancel(g.err)
	}
	return g.err
}

// errgroupMembers: `rounds` times, WithContext, `members` members returning nil, Wait. ns per
// member.
func errgroupMembers(members, rounds int) {
	t := time.Now()
	for r := 0; r < rounds; r++ {
		g, _ := withContext(context.Background())
		for i := 0; i < members; i++ {
			g.Go(func() error { return nil })
		}
		if err := g.Wait(); err != nil {
			panic(err)
		}
	}
	report("errgroup", float64(time.Since(t).Nanoseconds())/float64(members*rounds), "ns/member")
}

// select8: 8 goroutines each send n/8 values into their own channel (capacity 16); main
// receives all n through a select over the 8 channels: the select statement, or with dynamic
// reflect.Select (Go's select over a runtime-sized set; gort's Select). ns per value.
func select8(n int, dynamic bool) {
	const k = 8
	per := n / k
	chs := make([]chan int, k)
	for i := range chs {
		chs[i] = make(chan int, 16)
	}
	t := time.Now()
	for _, c := range chs {
		go func(c chan int) {
			for i := 0; i < per; i++ {
				c <- i
			}
		}(c)
	}
	total := per * k
	sum := 0
	if dynamic {
		cases := make([]reflect.SelectCase, k)
		for i, c := range chs {
			cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)}
		}
		for j := 0; j < total; j++ {
			_, v, _ := reflect.Select(cases)
			sum += int(v.Int())
		}
	} else {
		c0, c1, c2, c3, c4, c5, c6, c7 := chs[0], chs[1], chs[2], chs[3], chs[4], chs[5], chs[6], chs[7]
		for j := 0; j < total; j++ {
			select {
			case v := <-c0:
				sum += v
			case v := <-c1:
				sum += v
			case v := <-c2:
				sum += v
			case v := <-c3:
				sum += v
			case v := <-c4:
				sum += v
			case v := <-c5:
				sum += v
			case v := <-c6:
				sum += v
			case v := <-c7:
				sum += v
			}
		}
	}
	el := time.Since(t)
	if sum != k*per*(per-1)/2 {
		panic("select8: wrong sum")
	}
	name := "select8"
	if dynamic {
		name = "select8_dyn"
	}
	report(name, float64(el.Nanoseconds())/float64(total), "ns/op")
}

// timerChurn: a select loop with a fresh one-second time.After in every select; another
// goroutine sends n values on an unbuffered channel. ns per select.
func timerChurn(n int) {
	data := make(chan int)
	t := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			data <- i
		}
	}()
	for i := 0; i < n; i++ {
		select {
		case v := <-data:
			if v != i {
				panic("timer_churn: wrong value")
			}
		case <-time.After(time.Second):
			panic("timer_churn: a one-second timer fired")
		}
	}
	report("timer_churn", float64(time.Since(t).Nanoseconds())/float64(n), "ns/op")
}

// deepFrame recurses n frames of about 1 KiB each (the array is zeroed and read, so the frame
// is written); the array does not escape, so it stays on the goroutine's stack.
//
//go:noinline
func deepFrame(n int) int {
	var buf [1024]byte
	buf[n%1024] = byte(n)
	if n == 0 {
		return int(buf[0])
	}
	return deepFrame(n-1) + int(buf[(n*7)%1024])
}

// deepPark: n goroutines, each recursing depth frames of about 1 KiB, then parking on its own
// unbuffered channel (created before the measurement); RSS growth per goroutine ms after the
// last one parked. Go gets its best case meanwhile: eight GCs (each halves the stacks that use
// under a quarter of their size) and debug.FreeOSMemory (another GC, then everything free
// returned to the OS).
func deepPark(n, depth, ms int) {
	chans, before := ownChans(n)
	var parked int64
	var sink int64
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		c := chans[i]
		go func() {
			atomic.AddInt64(&sink, int64(deepFrame(depth)))
			atomic.AddInt64(&parked, 1)
			<-c
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		time.Sleep(time.Millisecond)
	}
	t := time.Now()
	// Each GC halves a stack that uses under a quarter of it: 8 take the 256 KiB stacks down
	// to Go's floor (measured here: FreeOSMemory alone 5.7 KB per goroutine, after one GC 24-48
	// KB, after four 7-8 KB, after eight 5.5 KB).
	for i := 0; i < 8; i++ {
		runtime.GC()
	}
	debug.FreeOSMemory()
	time.Sleep(time.Duration(ms)*time.Millisecond - time.Since(t))
	after := rssBytes()
	var diff uint64
	if after > before {
		diff = after - before
	}
	report("deep_park", float64(diff)/float64(n), "bytes/task")
	for _, c := range chans {
		c <- 1
	}
	wg.Wait()
}
