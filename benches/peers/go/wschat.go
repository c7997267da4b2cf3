// The Go peer of examples/services/examples/ws_chat.rs: gorilla/websocket's chat example
// (hub.go, client.go, main.go), with the RFC 6455 handshake and framing it needs written
// here by hand, because this module builds offline (GOPROXY=off) and gorilla/websocket is not
// in the standard library. `gopeer ws_chat_service --addr 127.0.0.1:PORT`; serves until killed,
// logs to stderr.
//
// The shape is gorilla's: net/http serves the request and the /ws handler hijacks the
// connection after the handshake; a hub goroutine owns the set of clients and is reached only
// through channels (register, unregister, broadcast); each client has a reader goroutine
// (readPump: frames in -> broadcast) and a writer goroutine (writePump: its own buffered send
// channel -> frames out, a ping every 54 s). A client whose send channel is full is dropped by
// the hub (close(client.send)). The limits and the batching are gort's example's, so that both
// do the same work: a message is at most 64 KiB, a client silent for 60 s is dropped, the
// send buffer is 256 messages, the broadcast channel holds 256, and the writer sends each
// message as its own frame (gorilla's example joins queued messages into one frame with
// newlines) and flushes what is queued, up to 64 KiB, with one write.
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	wsWriteWait   = 60 * time.Second
	wsPongWait    = 60 * time.Second
	wsPingPeriod  = 54 * time.Second
	wsMaxMessage  = 64 << 10
	wsSendBuffer  = 256
	wsBatchBytes  = 64 << 10
	wsAcceptMagic = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// wsMessage is a data message as the hub passes it round: its opcode and payload.
type wsMessage struct {
	op      byte
	payload []byte
}

// wsClient is gorilla's Client: the hub's view of one connection.
type wsClient struct {
	hub  *wsHub
	conn net.Conn
	br   *bufio.Reader
	// send: messages for the writer; the hub closes it to drop the client.
	send chan wsMessage
	// ctrl: control frames the reader asks the writer to send (pong, close reply), encoded.
	ctrl chan []byte
	// readerDone: closed by the reader when it ends; writerDone: by the writer.
	readerDone chan struct{}
	writerDone chan struct{}
}

// wsHub is gorilla's Hub.
type wsHub struct {
	clients    map[*wsClient]bool
	broadcast  chan wsMessage
	register   chan *wsClient
	unregister chan *wsClient
}

func (h *wsHub) run() {
	for {
		select {
		case c := <-h.register:
			h.clients[c] = true
		case c := <-h.unregister:
			if _, ok := h.clients[c]; ok {
				delete(h.clients, c)
				close(c.send)
			}
		case m := <-h.broadcast:
			for c := range h.clients {
				select {
				case c.send <- m:
				default:
					// Too slow to keep up: drop it.
					close(c.send)
					delete(h.clients, c)
				}
			}
		}
	}
}

func wsChatService(addr string) {
	hub := &wsHub{
		clients:    make(map[*wsClient]bool),
		broadcast:  make(chan wsMessage, wsSendBuffer),
		register:   make(chan *wsClient),
		unregister: make(chan *wsClient),
	}
	go hub.run()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { serveWs(hub, w, r) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ws_chat: connect a WebSocket client to /ws\n")
	})
	serveHTTP("ws_chat_service", addr, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second})
}

// hasToken reports whether the comma-separated header value list holds token (any case).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveWs is gorilla's serveWs with Upgrader.Upgrade written out (RFC 6455 §4.2).
func serveWs(hub *wsHub, w http.ResponseWriter, r *http.Request) {
	key := strings.TrimSpace(r.Header.Get("Sec-WebSocket-Key"))
	if r.Method != http.MethodGet || key == "" ||
		!hasToken(r.Header.Values("Connection"), "upgrade") ||
		!hasToken(r.Header.Values("Upgrade"), "websocket") {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		w.WriteHeader(http.StatusUpgradeRequired)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	// The server's read deadline (ReadHeaderTimeout) is ours to manage from here.
	conn.SetDeadline(time.Time{})
	sum := sha1.Sum([]byte(key + wsAcceptMagic))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	if _, err := conn.Write([]byte(resp)); err != nil {
		conn.Close()
		return
	}
	c := &wsClient{
		hub:        hub,
		conn:       conn,
		br:         brw.Reader,
		send:       make(chan wsMessage, wsSendBuffer),
		ctrl:       make(chan []byte, 4),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	hub.register <- c
	go c.writePump()
	go c.readPump()
}

var errWsProtocol = errors.New("websocket protocol error")

// frame encodes one unmasked (server) frame.
func frame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n < 1<<16:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// readFrame reads one masked (client) frame: fin, opcode, unmasked payload.
func (c *wsClient) readFrame(hdr []byte) (bool, byte, []byte, error) {
	if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
		return false, 0, nil, err
	}
	fin, op, masked := hdr[0]&0x80 != 0, hdr[0]&0x0F, hdr[1]&0x80 != 0
	if hdr[0]&0x70 != 0 || !masked {
		return false, 0, nil, errWsProtocol
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(hdr[:2]))
	case 127:
		if _, err := io.ReadFull(c.br, hdr[:8]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(hdr[:8])
	}
	if op >= opClose && (!fin || n > 125) {
		return false, 0, nil, errWsProtocol
	}
	if n > wsMaxMessage {
		return false, 0, nil, errWsProtocol
	}
	var mask [4]byte
	if _, err := io.ReadFull(c.br, mask[:]); err != nil {
		return false, 0, nil, err
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return false, 0, nil, err
	}
	for i := range payload {
		payload[i] ^= mask[i&3]
	}
	return fin, op, payload, nil
}

// readPump is gorilla's: frames in, messages to the hub; pings and closes answered through
// the writer.
func (c *wsClient) readPump() {
	defer func() {
		close(c.readerDone)
		c.hub.unregister <- c
	}()
	// control hands an encoded frame to the writer, unless the writer has ended.
	control := func(f []byte) {
		select {
		case c.ctrl <- f:
		case <-c.writerDone:
		}
	}
	var hdr [8]byte
	var msg []byte
	var msgOp byte
	for {
		c.conn.SetReadDeadline(time.Now().Add(wsPongWait))
		fin, op, payload, err := c.readFrame(hdr[:])
		if err != nil {
			if err == errWsProtocol {
				control(frame(nil, opClose, []byte{0x03, 0xEA})) // 1002
			}
			return
		}
		switch op {
		case opPing:
			control(frame(nil, opPong, payload))
			continue
		case opPong:
			continue
		case opClose:
			code := payload
			if len(code) > 2 {
				code = code[:2]
			}
			control(frame(nil, opClose, code))
			return
		case opText, opBinary:
			if msg != nil {
				return // a new message inside a fragmented one
			}
			msgOp, msg = op, payload
		case opContinuation:
			if msg == nil {
				return
			}
			if len(msg)+len(payload) > wsMaxMessage {
				control(frame(nil, opClose, []byte{0x03, 0xF1})) // 1009
				return
			}
			msg = append(msg, payload...)
		default:
			return
		}
		if !fin {
			continue
		}
		if msgOp == opText && !utf8.Valid(msg) {
			control(frame(nil, opClose, []byte{0x03, 0xEF})) // 1007
			return
		}
		c.hub.broadcast <- wsMessage{op: msgOp, payload: msg}
		msg = nil
	}
}

// writePump is gorilla's: messages from the hub out as frames, one write per batch, a ping
// every wsPingPeriod, a close frame when the hub drops the client.
func (c *wsClient) writePump() {
	ticker := time.NewTicker(wsPingPeriod)
	var buf []byte
	defer func() {
		ticker.Stop()
		close(c.writerDone)
		c.conn.Close()
	}()
	write := func(b []byte) bool {
		c.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
		_, err := c.conn.Write(b)
		return err == nil
	}
	for {
		select {
		case m, ok := <-c.send:
			if !ok {
				// The hub closed the channel.
				write(frame(buf[:0], opClose, nil))
				return
			}
			// Take what is already queued, up to wsBatchBytes, into one write.
			buf = buf[:0]
			for ok {
				buf = frame(buf, m.op, m.payload)
				if len(buf) >= wsBatchBytes {
					break
				}
				select {
				case m, ok = <-c.send:
				default:
					ok = false
				}
			}
			if !write(buf) {
				return
			}
		case f := <-c.ctrl:
			if !write(f) || f[0]&0x0F == opClose {
				return
			}
		case <-ticker.C:
			if !write(frame(buf[:0], opPing, nil)) {
				return
			}
		case <-c.readerDone:
			// The reader has ended; send what it left for us (a close reply), then stop.
			for {
				select {
				case f := <-c.ctrl:
					write(f)
				default:
					return
				}
			}
		}
	}
}
