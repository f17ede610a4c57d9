package benchcompare

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// h2conn is the load generator's client: unary Check calls over one HTTP/2 connection,
// written as gRPC frames them (the same HEADERS and length-prefixed message grpc-go or
// Envoy send), with each request's message encoded once beforehand and an answer read
// for only the fields the tally needs. grpc-go's client cost the generator about as much
// CPU per Check as the fastest server spends answering it, so at twice a server's capacity
// the generator, not the server, was what ran out (BENCHMARKS.md); Envoy's client is C++
// and runs on cores of its own. The equivalence check still goes through grpc-go.
//
// It is a benchmark client, not a general one: one method, requests that fit one stream
// window, HTTP/2 over cleartext TCP.
type h2conn struct {
	nc net.Conn
	fr *http2.Framer

	wmu        sync.Mutex // guards everything written: fr's writes, out, enc, hbuf, nextID, sendWindow
	out        outbox
	enc        *hpack.Encoder
	hbuf       bytes.Buffer
	nextID     uint32
	sendWindow int64         // the connection's send window (the server's WINDOW_UPDATEs)
	held       []heldMessage // messages waiting for sendWindow, in the order they were sent
	room       *sync.Cond    // on wmu: a stream slot became free
	waiting    atomic.Int32

	authority    string
	maxStreams   atomic.Uint32 // the server's SETTINGS_MAX_CONCURRENT_STREAMS
	streamWindow atomic.Uint32 // the server's SETTINGS_INITIAL_WINDOW_SIZE
	active       atomic.Int32  // calls sent and not yet finished

	mu      sync.Mutex // guards streams, order and err
	streams map[uint32]*h2call
	order   expiries // the calls' deadlines, soonest first
	err     error    // the connection failed; every call after it fails too

	unacked int64 // received DATA not yet returned to the server's window (reader only)
	stop    chan struct{}
}

type h2call struct {
	start    time.Time
	deadline time.Time
	msg      []byte // the answer's message, as its DATA frames arrive
	done     func(answer, time.Duration)
}

type heldMessage struct {
	id  uint32
	msg []byte
}

type expiry struct {
	id       uint32
	deadline time.Time
}

// expiries is a min-heap of deadlines (container/heap); a call that has ended stays in it
// until its deadline comes.
type expiries []expiry

func (e expiries) Len() int           { return len(e) }
func (e expiries) Less(i, j int) bool { return e[i].deadline.Before(e[j].deadline) }
func (e expiries) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *expiries) Push(x any)        { *e = append(*e, x.(expiry)) }
func (e *expiries) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// answer is what a Check got: its gRPC status and, when that is OK, the CheckResponse's
// status code, its denied_response's HTTP status and whether it has an ok_response.
type answer struct {
	rpc    codes.Code
	check  int32
	denied int32
	ok     bool
}

// answerOf turns a grpc-go call's result into an answer.
func answerOf(resp *authv3.CheckResponse, err error) answer {
	if err != nil {
		return answer{rpc: status.Code(err)}
	}
	return answer{check: resp.GetStatus().GetCode(), denied: int32(resp.GetDeniedResponse().GetStatus().GetCode()),
		ok: resp.GetOkResponse() != nil}
}

const (
	checkPath = "/envoy.service.auth.v3.Authorization/Check"
	// recvWindow is the window the generator grants the server, per stream and for the
	// connection; it returns what it has read once half of it is used.
	recvWindow = 1 << 30
)

var errConnClosed = errors.New("connection closed")

// dialH2 connects to a gRPC server at addr (cleartext HTTP/2 with prior knowledge) and
// reads its SETTINGS before the first call.
func dialH2(addr string) (*h2conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &h2conn{nc: nc, authority: addr, nextID: 1, out: outbox{kick: make(chan struct{}, 1)},
		sendWindow: 65535, streams: map[uint32]*h2call{}, stop: make(chan struct{})}
	c.room = sync.NewCond(&c.wmu)
	c.enc = hpack.NewEncoder(&c.hbuf)
	c.fr = http2.NewFramer(&c.out, bufio.NewReaderSize(nc, 64<<10))
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.maxStreams.Store(math.MaxUint32) // until the server's SETTINGS say otherwise
	c.streamWindow.Store(65535)
	go c.write()
	_, _ = c.out.Write([]byte(http2.ClientPreface))
	err = errors.Join(
		c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: recvWindow},
			http2.Setting{ID: http2.SettingEnablePush, Val: 0}),
		c.fr.WriteWindowUpdate(0, recvWindow-65535),
		c.flush())
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := c.fr.ReadFrame()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("read the server's preface: %w", err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		nc.Close()
		return nil, fmt.Errorf("the server's preface is a %v frame, not SETTINGS", f.Header().Type)
	}
	if err := c.settings(sf); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Time{})
	go c.read()
	go c.expire()
	return c, nil
}

// outbox holds what the connection has to write: frames are appended under wmu, which
// never blocks, and write sends them to the socket. A server that stops reading then
// stalls the socket, not the deadlines of the calls in flight (Envoy buffers the same way).
type outbox struct {
	buf  []byte
	kick chan struct{}
}

func (o *outbox) Write(p []byte) (int, error) {
	o.buf = append(o.buf, p...)
	return len(p), nil
}

// flush has write send what the outbox holds; wmu is held.
func (c *h2conn) flush() error {
	select {
	case c.out.kick <- struct{}{}:
	default: // already due
	}
	return nil
}

// write sends the outbox to the socket for as long as the connection lives.
func (c *h2conn) write() {
	var spare []byte
	for {
		select {
		case <-c.stop:
			return
		case <-c.out.kick:
		}
		c.wmu.Lock()
		spare, c.out.buf = c.out.buf, spare[:0]
		c.wmu.Unlock()
		if _, err := c.nc.Write(spare); err != nil {
			c.fail(err)
			return
		}
	}
}

// frameCheck encodes req as a gRPC message: an uncompressed flag, a 4-byte length, the
// protobuf.
func frameCheck(req *authv3.CheckRequest) ([]byte, error) {
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 5, 5+len(b))
	binary.BigEndian.PutUint32(out[1:], uint32(len(b)))
	return append(out, b...), nil
}

// grpcTimeout is the grpc-timeout header's value for d (milliseconds, at most 8 digits).
func grpcTimeout(d time.Duration) string {
	return strconv.FormatInt(min(d.Milliseconds(), 99_999_999), 10) + "m"
}

// send starts one Check with message msg (from frameCheck) and the given timeout; done is
// called once, from the connection's reader or its expiry loop, with what it got.
//
// As grpc-go's and Envoy's clients do, the HEADERS go out at once (the server learns of
// the call, and its deadline, whatever its flow-control window) and the message when the
// window has room: a server that reads slower than it is sent to holds calls back in the
// client, where their deadlines keep running. send blocks only while the server's stream
// limit is reached.
func (c *h2conn) send(msg []byte, timeout time.Duration, done func(answer, time.Duration)) error {
	if len(msg) > int(c.streamWindow.Load()) {
		return fmt.Errorf("a %d-byte request exceeds the server's stream window", len(msg))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// Counted as waiting before it looks, so that a call ending in between (release) sees
	// it and wakes it.
	c.waiting.Add(1)
	for uint32(c.active.Load()) >= c.maxStreams.Load() {
		if err := c.failed(); err != nil {
			c.waiting.Add(-1)
			return err
		}
		c.room.Wait()
	}
	c.waiting.Add(-1)
	id := c.nextID
	c.nextID += 2
	now := time.Now()
	call := &h2call{start: now, deadline: now.Add(timeout), done: done}
	c.mu.Lock()
	if c.err != nil { // checked with the insert: fail ends every call it finds, and only those
		c.mu.Unlock()
		return c.err
	}
	c.streams[id] = call
	heap.Push(&c.order, expiry{id, call.deadline})
	c.mu.Unlock()
	c.active.Add(1)

	c.hbuf.Reset()
	for _, f := range [...]hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: checkPath},
		{Name: ":authority", Value: c.authority}, {Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"}, {Name: "grpc-timeout", Value: grpcTimeout(timeout)},
	} {
		_ = c.enc.WriteField(f) // writes into hbuf, which does not fail
	}
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true})
	c.held = append(c.held, heldMessage{id, msg})
	if err == nil {
		err = c.writeHeld()
	}
	if err != nil {
		go c.fail(err) // fail takes wmu, held here
	}
	return nil // a write error fails the call through fail, as it does every call in flight
}

// writeHeld writes the messages held back, in the order they were sent, while the
// connection's window has room, dropping those of calls that have ended (refused on their
// headers, or past their deadline); wmu is held.
func (c *h2conn) writeHeld() error {
	n := 0
	for ; n < len(c.held); n++ {
		h := c.held[n]
		c.mu.Lock()
		live := c.streams[h.id] != nil
		c.mu.Unlock()
		if !live {
			continue
		}
		if c.sendWindow < int64(len(h.msg)) {
			break
		}
		for rest := h.msg; ; {
			k := min(len(rest), 16384) // the smallest SETTINGS_MAX_FRAME_SIZE a server may set
			if err := c.fr.WriteData(h.id, k == len(rest), rest[:k]); err != nil {
				return err
			}
			if rest = rest[k:]; len(rest) == 0 {
				break
			}
		}
		c.sendWindow -= int64(len(h.msg))
	}
	c.held = c.held[n:]
	return c.flush()
}

// check is one Check, waiting for its answer.
func (c *h2conn) check(msg []byte, timeout time.Duration) (answer, time.Duration) {
	type result struct {
		a    answer
		took time.Duration
	}
	ch := make(chan result, 1)
	if err := c.send(msg, timeout, func(a answer, took time.Duration) { ch <- result{a, took} }); err != nil {
		return answer{rpc: codes.Unavailable}, 0
	}
	r := <-ch
	return r.a, r.took
}

func (c *h2conn) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// read handles the server's frames for as long as the connection lives.
func (c *h2conn) read() {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.fail(err)
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				err = c.settings(f)
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				c.wmu.Lock()
				c.sendWindow += int64(f.Increment)
				err = c.writeHeld()
				c.wmu.Unlock()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.wmu.Lock()
				err = errors.Join(c.fr.WritePing(true, f.Data), c.flush())
				c.wmu.Unlock()
			}
		case *http2.DataFrame:
			err = c.data(f)
		case *http2.MetaHeadersFrame:
			c.headers(f)
		case *http2.RSTStreamFrame:
			// After an answer's trailers (a refused call that had not finished sending) this
			// finds no call; before them, the call failed.
			c.finish(f.StreamID, answer{rpc: c.resetCode(f)})
		case *http2.GoAwayFrame:
			err = fmt.Errorf("the server sent GOAWAY (%v)", f.ErrCode)
		}
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// resetCode is what a call the server reset got: REFUSED_STREAM is a retryable refusal, and
// CANCEL once the call's deadline has passed is grpc-go's server ending it at its deadline
// (a moment before the expiry loop would have).
func (c *h2conn) resetCode(f *http2.RSTStreamFrame) codes.Code {
	switch f.ErrCode {
	case http2.ErrCodeRefusedStream:
		return codes.Unavailable
	case http2.ErrCodeCancel:
		c.mu.Lock()
		call := c.streams[f.StreamID]
		c.mu.Unlock()
		if call != nil && !time.Now().Before(call.deadline) {
			return codes.DeadlineExceeded
		}
		return codes.Canceled
	}
	return codes.Internal
}

func (c *h2conn) settings(f *http2.SettingsFrame) error {
	err := f.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.maxStreams.Store(s.Val)
		case http2.SettingInitialWindowSize:
			c.streamWindow.Store(s.Val)
		}
		return nil
	})
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.room.Broadcast()
	return errors.Join(err, c.fr.WriteSettingsAck(), c.flush())
}

func (c *h2conn) data(f *http2.DataFrame) error {
	c.mu.Lock()
	if call := c.streams[f.StreamID]; call != nil {
		call.msg = append(call.msg, f.Data()...)
	}
	c.mu.Unlock()
	// Padding counts against the window too: f.Length is the whole payload.
	if c.unacked += int64(f.Length); c.unacked >= recvWindow/2 {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		err := errors.Join(c.fr.WriteWindowUpdate(0, uint32(c.unacked)), c.flush())
		c.unacked = 0
		return err
	}
	return nil
}

// headers ends a call at its trailers (grpc-status), or at a trailers-only answer.
func (c *h2conn) headers(f *http2.MetaHeadersFrame) {
	code := codes.Code(0)
	found := false
	for _, h := range f.RegularFields() {
		if h.Name == "grpc-status" {
			n, err := strconv.Atoi(h.Value)
			if err != nil {
				n = int(codes.Internal)
			}
			code, found = codes.Code(n), true
		}
	}
	switch {
	case found:
	case f.StreamEnded(): // an HTTP answer without a gRPC status (a proxy's error, say)
		code = codes.Internal
	default:
		return // the answer's headers; the message and trailers follow
	}
	c.mu.Lock()
	call := c.streams[f.StreamID]
	c.mu.Unlock()
	if call == nil {
		return
	}
	a := answer{rpc: code}
	if code == codes.OK {
		var err error
		if a, err = parseCheckResponse(call.msg); err != nil {
			a = answer{rpc: codes.Internal}
		}
	}
	c.finish(f.StreamID, a)
}

// finish ends call id (if it has not ended) with a.
func (c *h2conn) finish(id uint32, a answer) {
	c.mu.Lock()
	call := c.streams[id]
	delete(c.streams, id)
	c.mu.Unlock()
	if call == nil {
		return
	}
	c.release()
	call.done(a, time.Since(call.start))
}

func (c *h2conn) release() {
	c.active.Add(-1)
	if c.waiting.Load() > 0 {
		c.wmu.Lock()
		c.room.Broadcast()
		c.wmu.Unlock()
	}
}

// expire ends calls whose deadline passed with DEADLINE_EXCEEDED and resets their streams,
// as a gRPC client does.
func (c *h2conn) expire() {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	var late []uint32
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			late = late[:0]
			c.mu.Lock()
			for len(c.order) > 0 && !c.order[0].deadline.After(now) {
				if id := heap.Pop(&c.order).(expiry).id; c.streams[id] != nil {
					late = append(late, id)
				}
			}
			c.mu.Unlock()
			if len(late) == 0 {
				continue
			}
			// Reset before the calls end (and free their stream slots), so the server frees
			// these streams before it counts the next calls'.
			c.wmu.Lock()
			for _, id := range late {
				_ = c.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			}
			_ = c.flush()
			c.wmu.Unlock()
			for _, id := range late {
				c.finish(id, answer{rpc: codes.DeadlineExceeded})
			}
		}
	}
}

// fail ends every call in flight with UNAVAILABLE and closes the connection.
func (c *h2conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	calls := c.streams
	c.streams = map[uint32]*h2call{}
	c.mu.Unlock()
	close(c.stop)
	_ = c.nc.Close()
	for _, call := range calls {
		c.release()
		call.done(answer{rpc: codes.Unavailable}, time.Since(call.start))
	}
	c.wmu.Lock()
	c.room.Broadcast()
	c.wmu.Unlock()
}

func (c *h2conn) close() { c.fail(errConnClosed) }

// parseCheckResponse reads a gRPC message holding a CheckResponse for the fields an answer
// has: status (1) .code (1), denied_response (2) .status (1) .code (1), ok_response (3). As
// protobuf decoding does, a repeated message field merges (a field it leaves out keeps its
// value) and the last of the oneof (denied_response, ok_response, error_response (5)) wins.
func parseCheckResponse(msg []byte) (answer, error) {
	if len(msg) < 5 || msg[0] != 0 || int(binary.BigEndian.Uint32(msg[1:5])) != len(msg)-5 {
		return answer{}, errors.New("not one uncompressed gRPC message")
	}
	var a answer
	err := fields(msg[5:], func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			return varintField(v, 1, func(code uint64) { a.check = int32(code) })
		case 2:
			if a.ok {
				a.ok, a.denied = false, 0 // the oneof switches to denied_response
			}
			return fields(v, func(num protowire.Number, v []byte) error {
				if num != 1 {
					return nil
				}
				return varintField(v, 1, func(code uint64) { a.denied = int32(code) })
			})
		case 3:
			a.ok, a.denied = true, 0
		case 5: // error_response, the oneof's third member
			a.ok, a.denied = false, 0
		}
		return nil
	})
	return a, err
}

// walk calls f with each field of a protobuf message: its number, its type and its value
// (the contents of a length-delimited field, the encoding of any other).
func walk(b []byte, f func(protowire.Number, protowire.Type, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		v := b[:m]
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(v)
		}
		if err := f(num, typ, v); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}

// fields calls f with each length-delimited field of a protobuf message.
func fields(b []byte, f func(protowire.Number, []byte) error) error {
	return walk(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		return f(num, v)
	})
}

// varintField calls set with each value of the varint field want of a protobuf message.
func varintField(b []byte, want protowire.Number, set func(uint64)) error {
	return walk(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num == want && typ == protowire.VarintType {
			x, _ := protowire.ConsumeVarint(v)
			set(x)
		}
		return nil
	})
}
