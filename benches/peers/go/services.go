// The Go side of the service benchmarks (examples/services in the gort repository): the same
// HTTP server written with net/http, and the same Redis-protocol server written the way a Go
// programmer writes one (a goroutine per connection, bufio, a sharded map under sync.Mutex).
// `gopeer http_service --addr 127.0.0.1:PORT`, `gopeer redis_service --addr 127.0.0.1:PORT`;
// both serve until killed and log to stderr.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// addrFlag parses `--addr HOST:PORT` after the workload name.
func addrFlag() string {
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	_ = fs.Parse(os.Args[2:])
	return *addr
}

type message struct {
	Message string `json:"message"`
}

// httpService is examples/services/examples/http_server.rs in net/http: the same endpoints,
// the same timeouts (ReadHeaderTimeout 10 s, IdleTimeout 60 s, WriteTimeout 60 s).
func httpService(addr string) {
	mux := http.NewServeMux()
	get := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return false
		}
		return true
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if get(w, r) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "hello")
		}
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		if get(w, r) {
			b, _ := json.Marshal(message{Message: "Hello, World!"})
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 10<<20))
		if err != nil {
			http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Write(body)
	})
	serveHTTP("http_service", addr, &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
	})
}

// serveHTTP listens on addr and serves srv until killed; it logs to stderr and exits on error.
func serveHTTP(name, addr string, srv *http.Server) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%s: listening on %s\n", name, l.Addr())
	fmt.Fprintln(os.Stderr, srv.Serve(l))
	os.Exit(1)
}

const redisShards = 64

type redisShard struct {
	mu sync.Mutex
	m  map[string][]byte
}

type redisDB struct {
	seed   maphash.Seed
	shards [redisShards]redisShard
}

func (db *redisDB) shard(key []byte) *redisShard {
	return &db.shards[maphash.Bytes(db.seed, key)%redisShards]
}

// redisService is examples/services/examples/redis_server.rs in Go.
func redisService(addr string) {
	db := &redisDB{seed: maphash.MakeSeed()}
	for i := range db.shards {
		db.shards[i].m = make(map[string][]byte)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "redis_service: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "redis_service: listening on %s\n", l.Addr())
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			// The back-off of net/http's Server.Serve.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			fmt.Fprintf(os.Stderr, "redis_service: accept: %v; retrying in %v\n", err, delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		go db.serve(c)
	}
}

var errProtocol = errors.New("protocol error")

// readCommand reads one request: a RESP array of bulk strings, or an inline command split on
// blanks (without Redis's quoting, which the benchmark never uses).
func readCommand(r *bufio.Reader) ([][]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 || line[0] != '*' {
		return bytes.Fields(line), nil
	}
	n, err := strconv.Atoi(string(line[1:]))
	if err != nil || n > 1024*1024 {
		return nil, errProtocol
	}
	args := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if len(line) < 3 || line[0] != '$' {
			return nil, errProtocol
		}
		l, err := strconv.Atoi(string(bytes.TrimRight(line[1:], "\r\n")))
		if err != nil || l < 0 || l > 512<<20 {
			return nil, errProtocol
		}
		arg := make([]byte, l+2)
		if _, err := io.ReadFull(r, arg); err != nil {
			return nil, err
		}
		args = append(args, arg[:l])
	}
	return args, nil
}

func (db *redisDB) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 16<<10)
	w := bufio.NewWriterSize(c, 16<<10)
	for {
		args, err := readCommand(r)
		if err != nil {
			if err == errProtocol {
				w.WriteString("-ERR Protocol error\r\n")
				w.Flush()
			}
			return
		}
		if len(args) > 0 && !db.exec(args, w) {
			w.Flush()
			return
		}
		// Pipelining: one write for everything that arrived together.
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

func writeBulk(w *bufio.Writer, v []byte) {
	w.WriteByte('$')
	w.WriteString(strconv.Itoa(len(v)))
	w.WriteString("\r\n")
	w.Write(v)
	w.WriteString("\r\n")
}

func writeInt(w *bufio.Writer, n int64) {
	w.WriteByte(':')
	w.WriteString(strconv.FormatInt(n, 10))
	w.WriteString("\r\n")
}

func arity(w *bufio.Writer, name string) {
	fmt.Fprintf(w, "-ERR wrong number of arguments for '%s' command\r\n", name)
}

// exec runs one command; false means close the connection (QUIT).
func (db *redisDB) exec(args [][]byte, w *bufio.Writer) bool {
	name := args[0]
	is := func(s string) bool { return bytes.EqualFold(name, []byte(s)) }
	switch {
	case is("get"):
		if len(args) != 2 {
			arity(w, "get")
			break
		}
		s := db.shard(args[1])
		s.mu.Lock()
		v, ok := s.m[string(args[1])]
		s.mu.Unlock()
		if ok {
			writeBulk(w, v)
		} else {
			w.WriteString("$-1\r\n")
		}
	case is("set"):
		if len(args) < 3 {
			arity(w, "set")
			break
		}
		if len(args) > 3 {
			w.WriteString("-ERR syntax error\r\n")
			break
		}
		s := db.shard(args[1])
		s.mu.Lock()
		s.m[string(args[1])] = args[2]
		s.mu.Unlock()
		w.WriteString("+OK\r\n")
	case is("incr"):
		if len(args) != 2 {
			arity(w, "incr")
			break
		}
		s := db.shard(args[1])
		s.mu.Lock()
		old := int64(0)
		var err error
		if v, ok := s.m[string(args[1])]; ok {
			old, err = strconv.ParseInt(string(v), 10, 64)
		}
		switch {
		case err != nil:
			w.WriteString("-ERR value is not an integer or out of range\r\n")
		case old == 1<<63-1:
			w.WriteString("-ERR increment or decrement would overflow\r\n")
		default:
			s.m[string(args[1])] = strconv.AppendInt(nil, old+1, 10)
			writeInt(w, old+1)
		}
		s.mu.Unlock()
	case is("del"):
		if len(args) < 2 {
			arity(w, "del")
			break
		}
		n := int64(0)
		for _, k := range args[1:] {
			s := db.shard(k)
			s.mu.Lock()
			if _, ok := s.m[string(k)]; ok {
				delete(s.m, string(k))
				n++
			}
			s.mu.Unlock()
		}
		writeInt(w, n)
	case is("ping"):
		switch len(args) {
		case 1:
			w.WriteString("+PONG\r\n")
		case 2:
			writeBulk(w, args[1])
		default:
			arity(w, "ping")
		}
	case is("quit"):
		w.WriteString("+OK\r\n")
		return false
	default:
		var rest bytes.Buffer
		for _, a := range args[1:] {
			if rest.Len() >= 128 {
				break
			}
			room := 128 - rest.Len()
			if len(a) > room {
				a = a[:room]
			}
			fmt.Fprintf(&rest, "'%s' ", a)
		}
		n := name
		if len(n) > 128 {
			n = n[:128]
		}
		fmt.Fprintf(w, "-ERR unknown command '%s', with args beginning with: %s\r\n", n, rest.Bytes())
	}
	return true
}
