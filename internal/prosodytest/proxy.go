package prosodytest

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Proxy is a TCP proxy in front of prosody's WebSocket and BOSH port, one
// per domain, that a test cuts to simulate what happens between a
// connector and a Finesse side: a lost session (Drop), a side that is down
// (Cut), a network that silently stops carrying bytes (Stall). TLS passes
// through it untouched. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	addr   string // host:port, kept across Cut and Restore

	mu       sync.Mutex            // guards the fields below
	ln       net.Listener          // nil while cut
	conns    map[net.Conn]struct{} // both ends of every open pair
	stall    chan struct{}         // non-nil while stalled; closed to resume
	dropped  chan struct{}         // closed and replaced when connections are closed, to free stalled pipes
	accepted int                   // connections accepted so far
	closed   bool                  // the test is over
	wg       sync.WaitGroup        // the accept loop and the pipes
}

func newProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}, dropped: make(chan struct{})}
	p.serve(ln)
	return p, nil
}

// Addr returns the host:port the proxy listens on.
func (p *Proxy) Addr() string { return p.addr }

// Drop closes every open connection, as when a network drops a session,
// and keeps accepting new ones: the side is still up.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeConnsLocked()
}

// Cut closes every open connection and refuses new ones until Restore: the
// side is down, and dialing it is refused.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.closeConnsLocked()
}

// Stall stops carrying bytes in both directions, with every connection
// left open, until Restore: pings go unanswered, as on a network that
// black-holes traffic.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stall == nil {
		p.stall = make(chan struct{})
	}
}

// Restore undoes Cut and Stall: the proxy listens again on the same
// address and carries bytes again.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stall != nil {
		close(p.stall)
		p.stall = nil
	}
	if p.ln != nil || p.closed {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("prosodytest: proxy: listen again on %s: %w", p.addr, err)
	}
	p.serveLocked(ln)
	return nil
}

// Connections returns the number of connections open through the proxy.
func (p *Proxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Accepted returns the number of connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serveLocked(ln)
}

func (p *Proxy) serveLocked(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut or close
			}
			p.pair(c)
		}
	}()
}

// pair connects an accepted connection to prosody.
func (p *Proxy) pair(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil || p.closed { // cut meanwhile
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.accepted++
	p.conns[client] = struct{}{}
	p.conns[server] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	go p.pipe(server, client)
	go p.pipe(client, server)
}

// pipe copies from src to dst until either ends, holding bytes while the
// proxy is stalled.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			stall, dropped := p.stall, p.dropped
			p.mu.Unlock()
			if stall != nil {
				select {
				case <-stall: // Restore
				case <-dropped: // Drop or Cut: the bytes are lost with the connection
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF, or closed by Drop, Cut or the other pipe
		}
	}
}

func (p *Proxy) closeConnsLocked() {
	for c := range p.conns {
		c.Close()
	}
	close(p.dropped)
	p.dropped = make(chan struct{})
}

// close stops the proxy for good and waits for its goroutines.
func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	if p.stall != nil {
		close(p.stall)
		p.stall = nil
	}
	p.closeConnsLocked()
	p.mu.Unlock()
	p.wg.Wait()
}
