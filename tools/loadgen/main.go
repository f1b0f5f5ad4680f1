// Command loadgen is an independent load generator for etcd-compatible servers.
//
// It drives a server through etcd's own Go client library (go.etcd.io/etcd/clientv3,
// etcd 3.4 as packaged by Debian), the same way etcd's tools/benchmark does:
//
//   - `--conns` client connections are opened (one clientv3.Client, hence one gRPC
//     connection, per conn; with several endpoints, conns are spread over them
//     round-robin);
//   - `--clients` goroutines share those connections round-robin (client i uses
//     conn i % conns);
//   - each client issues requests strictly sequentially (one outstanding request per
//     client) until `--total` requests have been issued in all.
//
// Latency is measured per request with time.Now() immediately around the client call,
// so it includes client-side marshalling, gRPC and the server. A short untimed warm-up
// (`--warmup` requests, same concurrency) precedes the measured phase so connection
// setup, HTTP/2 window growth and lazy initialisation on both sides are excluded.
//
// Operations:
//
//	put      Put(key, value)
//	range    Get(key)                  (linearizable unless --consistency s)
//	txn-put  Txn().Then(OpPut(key, value)).Commit()
//
// Keys are random in [0, key-space), formatted as zero-padded decimal of --key-size
// bytes (e.g. "00012345"); values are --val-size bytes. For `range` against a server
// that lacks the keys, use --prefill N to write keys 0..N-1 first (untimed).
//
// Output: a human-readable summary, or with --json a single JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/pkg/logutil"
	"go.uber.org/zap"
)

type config struct {
	endpoints   []string
	conns       int
	clients     int
	total       int
	warmup      int
	op          string
	keySize     int
	valSize     int
	keySpace    int
	consistency string
	prefill     int
	timeout     time.Duration
	jsonOut     bool
}

// result is what gets printed (also the --json schema). Latencies are in milliseconds.
type result struct {
	Op          string  `json:"op"`
	Endpoints   string  `json:"endpoints"`
	Conns       int     `json:"conns"`
	Clients     int     `json:"clients"`
	Total       int     `json:"total"`
	KeySize     int     `json:"key_size"`
	ValSize     int     `json:"val_size"`
	KeySpace    int     `json:"key_space"`
	Consistency string  `json:"consistency,omitempty"`
	Ok          int     `json:"ok"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	TotalSec    float64 `json:"total_s"`
	RPS         float64 `json:"rps"`
	AvgMs       float64 `json:"avg_ms"`
	MinMs       float64 `json:"min_ms"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	P999Ms      float64 `json:"p999_ms"`
	MaxMs       float64 `json:"max_ms"`
	// CPU time (user+sys) this load generator itself spent per measured request, in µs:
	// on a small machine the client competes with the server for cores.
	ClientCPUUs float64 `json:"client_cpu_us_per_req"`
}

// cpuTime returns this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func parseFlags() config {
	var c config
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated gRPC endpoints (host:port or http://host:port)")
	flag.IntVar(&c.conns, "conns", 1, "number of client connections (clientv3.Client instances)")
	flag.IntVar(&c.clients, "clients", 1, "number of concurrent clients (goroutines), sharing conns round-robin")
	flag.IntVar(&c.total, "total", 10000, "number of measured requests")
	flag.IntVar(&c.warmup, "warmup", 1000, "number of untimed warm-up requests before measuring")
	flag.StringVar(&c.op, "op", "put", "operation: put | range | txn-put")
	flag.IntVar(&c.keySize, "key-size", 8, "key size in bytes")
	flag.IntVar(&c.valSize, "val-size", 256, "value size in bytes")
	flag.IntVar(&c.keySpace, "key-space", 100000, "keys are drawn uniformly from [0, key-space)")
	flag.StringVar(&c.consistency, "consistency", "l", "range consistency: l (linearizable) | s (serializable)")
	flag.IntVar(&c.prefill, "prefill", 0, "before the run, put keys 0..prefill-1 (untimed; useful for range)")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.BoolVar(&c.jsonOut, "json", false, "print one JSON line instead of the text summary")
	flag.Parse()

	for _, e := range strings.Split(*endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			c.endpoints = append(c.endpoints, e)
		}
	}
	fail := func(format string, a ...interface{}) {
		fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", a...)
		os.Exit(2)
	}
	switch {
	case len(c.endpoints) == 0:
		fail("no endpoints")
	case c.conns < 1 || c.clients < 1 || c.total < 1 || c.warmup < 0 || c.prefill < 0:
		fail("conns, clients, total must be >= 1; warmup, prefill >= 0")
	case c.op != "put" && c.op != "range" && c.op != "txn-put":
		fail("unknown --op %q (put | range | txn-put)", c.op)
	case c.consistency != "l" && c.consistency != "s":
		fail("unknown --consistency %q (l | s)", c.consistency)
	case c.keySpace < 1 || c.valSize < 0:
		fail("key-space must be >= 1, val-size >= 0")
	case len(fmt.Sprint(c.keySpace-1)) > c.keySize:
		fail("key-size %d too small for key-space %d (decimal keys)", c.keySize, c.keySpace)
	case c.prefill > 0 && len(fmt.Sprint(c.prefill-1)) > c.keySize:
		fail("key-size %d too small for prefill %d", c.keySize, c.prefill)
	}
	return c
}

// key formats key number n as a zero-padded decimal string of exactly keySize bytes.
func key(n, keySize int) string { return fmt.Sprintf("%0*d", keySize, n) }

// makeOp builds the request for key number n.
func makeOp(c *config, n int, val string) clientv3.Op {
	k := key(n, c.keySize)
	switch c.op {
	case "put":
		return clientv3.OpPut(k, val)
	case "range":
		if c.consistency == "s" {
			return clientv3.OpGet(k, clientv3.WithSerializable())
		}
		return clientv3.OpGet(k)
	default: // txn-put
		return clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpPut(k, val)}, nil)
	}
}

// phase runs n requests over all clients and returns the per-request latencies of the
// successful ones, the error count and the first error, and the wall time of the phase.
// next(rng) chooses the key number of the next request.
func phase(c *config, conns []*clientv3.Client, n int, val string,
	next func(r *rand.Rand) int) (lat []time.Duration, errs int, firstErr error, wall time.Duration) {

	var issued int64 // requests claimed so far, shared by all clients
	var mu sync.Mutex
	var wg sync.WaitGroup
	perClient := make([][]time.Duration, c.clients)

	start := time.Now()
	for i := 0; i < c.clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			kv := clientv3.NewKV(conns[i%len(conns)])
			r := rand.New(rand.NewSource(time.Now().UnixNano() + int64(i)*7919))
			local := make([]time.Duration, 0, n/c.clients+1)
			for atomic.AddInt64(&issued, 1) <= int64(n) {
				op := makeOp(c, next(r), val)
				ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
				t0 := time.Now()
				_, err := kv.Do(ctx, op)
				d := time.Since(t0)
				cancel()
				if err != nil {
					mu.Lock()
					errs++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				local = append(local, d)
			}
			perClient[i] = local
		}(i)
	}
	wg.Wait()
	wall = time.Since(start)

	for _, l := range perClient {
		lat = append(lat, l...)
	}
	return lat, errs, firstErr, wall
}

// percentile returns the q-quantile (0..1) of sorted latencies (nearest-rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	idx := int(q*float64(len(sorted))+0.999999999) - 1
	if idx < 0 {
		idx = 0
	}
	if idx >= len(sorted) {
		idx = len(sorted) - 1
	}
	return sorted[idx]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func main() {
	c := parseFlags()

	// The client's zap logger warns on every retried request; keep only errors so a
	// failing run does not flood stderr (errors are counted and reported instead).
	logCfg := logutil.DefaultZapLoggerConfig
	logCfg.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)

	// One clientv3.Client (one gRPC connection) per conn, endpoints round-robin.
	conns := make([]*clientv3.Client, c.conns)
	for i := range conns {
		ep := c.endpoints[i%len(c.endpoints)]
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   []string{ep},
			DialTimeout: 5 * time.Second,
			LogConfig:   &logCfg,
		})
		if err == nil {
			// clientv3 3.4 may return before the connection is usable; probe it with
			// one (untimed) Get so an unreachable server fails fast instead of
			// making every warm-up request wait for --timeout.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = cli.Get(ctx, "loadgen-probe")
			cancel()
			if err != nil {
				cli.Close()
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: connect %s: %v\n", ep, err)
			os.Exit(1)
		}
		defer cli.Close()
		conns[i] = cli
	}

	val := strings.Repeat("v", c.valSize)
	random := func(r *rand.Rand) int { return r.Intn(c.keySpace) }

	// Optional prefill: put keys 0..prefill-1 once each, untimed.
	if c.prefill > 0 {
		var counter int64 = -1
		seq := func(*rand.Rand) int { return int(atomic.AddInt64(&counter, 1)) }
		pc := c
		pc.op = "put"
		if _, errs, err, _ := phase(&pc, conns, c.prefill, val, seq); errs > 0 {
			fmt.Fprintf(os.Stderr, "loadgen: prefill: %d errors, first: %v\n", errs, err)
			os.Exit(1)
		}
	}

	// Untimed warm-up with the same operation and concurrency.
	if c.warmup > 0 {
		if _, errs, err, _ := phase(&c, conns, c.warmup, val, random); errs == c.warmup {
			fmt.Fprintf(os.Stderr, "loadgen: warm-up: all %d requests failed, first: %v\n", errs, err)
			os.Exit(1)
		}
	}

	cpu0 := cpuTime()
	lat, errs, firstErr, wall := phase(&c, conns, c.total, val, random)
	clientCPU := cpuTime() - cpu0
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })

	res := result{
		Op: c.op, Endpoints: strings.Join(c.endpoints, ","), Conns: c.conns, Clients: c.clients,
		Total: c.total, KeySize: c.keySize, ValSize: c.valSize, KeySpace: c.keySpace,
		Ok: len(lat), Errors: errs, TotalSec: wall.Seconds(),
		ClientCPUUs: float64(clientCPU) / float64(time.Microsecond) / float64(c.total),
	}
	if c.op == "range" {
		res.Consistency = c.consistency
	}
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	if len(lat) > 0 {
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		// Throughput counts completed successful requests over the measured wall time.
		res.RPS = float64(len(lat)) / wall.Seconds()
		res.AvgMs = ms(sum / time.Duration(len(lat)))
		res.MinMs = ms(lat[0])
		res.P50Ms = ms(percentile(lat, 0.50))
		res.P90Ms = ms(percentile(lat, 0.90))
		res.P99Ms = ms(percentile(lat, 0.99))
		res.P999Ms = ms(percentile(lat, 0.999))
		res.MaxMs = ms(lat[len(lat)-1])
	}

	if c.jsonOut {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	} else {
		desc := c.op
		if c.op == "range" {
			desc += " (" + map[string]string{"l": "linearizable", "s": "serializable"}[c.consistency] + ")"
		}
		fmt.Printf("Summary: %s, %d clients over %d conns, %d requests, key %dB / value %dB, key space %d\n",
			desc, c.clients, c.conns, c.total, c.keySize, c.valSize, c.keySpace)
		fmt.Printf("  Total:        %.4f s\n", res.TotalSec)
		fmt.Printf("  Requests/sec: %.1f\n", res.RPS)
		fmt.Printf("  Average:      %.4f ms\n", res.AvgMs)
		fmt.Printf("  Min / Max:    %.4f / %.4f ms\n", res.MinMs, res.MaxMs)
		fmt.Printf("  p50:          %.4f ms\n", res.P50Ms)
		fmt.Printf("  p90:          %.4f ms\n", res.P90Ms)
		fmt.Printf("  p99:          %.4f ms\n", res.P99Ms)
		fmt.Printf("  p99.9:        %.4f ms\n", res.P999Ms)
		fmt.Printf("  Errors:       %d\n", res.Errors)
		fmt.Printf("  Client CPU:   %.1f µs/request\n", res.ClientCPUUs)
		if firstErr != nil {
			fmt.Printf("  First error:  %v\n", firstErr)
		}
	}
	if len(lat) == 0 {
		os.Exit(1)
	}
}
