package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// raiseFileLimit raises the soft limit on open files to the hard one: a
// run holds one descriptor per connection.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	want := lim
	want.Cur = want.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return fmt.Errorf("raise the open-file limit to %d: %w", want.Max, err)
	}
	return nil
}

// fileLimit returns the soft limit on open files.
func fileLimit() uint64 {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 0
	}
	return lim.Cur
}

// procSample is a process's CPU time and resident memory at one moment.
type procSample struct {
	at    time.Time
	cpu   time.Duration // user + system
	rssKB int64
}

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ),
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

func readProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	s.cpu = time.Duration(utime+stime) * clockTick
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return s, fmt.Errorf("/proc/%d/status VmRSS: %w", pid, err)
			}
			s.rssKB = kb
		}
	}
	return s, nil
}

// usage samples the server's processes, one per node, and this tool's.
type usage struct {
	pids []int // the nodes' processes; none to sample only this tool
}

// usageSample is one moment's CPU and memory.
type usageSample struct {
	server procSample   // the nodes' processes together
	nodes  []procSample // each node's process, in the order of pids
	self   procSample
}

func (u usage) sample() usageSample {
	s := usageSample{server: procSample{at: time.Now()}, self: sampleProc(os.Getpid())}
	for _, pid := range u.pids {
		p := sampleProc(pid)
		s.nodes = append(s.nodes, p)
		s.server.cpu += p.cpu
		s.server.rssKB += p.rssKB
	}
	return s
}

// set records the server's CPU between two samples and its RSS at the
// second: the nodes' sum, then each node's when there are several, then
// this tool's CPU.
func (u usage) set(r *Result, from, to usageSample) {
	if len(u.pids) > 0 {
		setProcUsage(r, "server", from.server, to.server)
	}
	if len(u.pids) > 1 {
		for i := range u.pids {
			setProcUsage(r, "node"+strconv.Itoa(i+1), from.nodes[i], to.nodes[i])
		}
	}
	if wall := to.self.at.Sub(from.self.at); wall > 0 {
		r.set("bench_cpu_pct", 100*float64(to.self.cpu-from.self.cpu)/float64(wall))
	}
}

// setRSS records the RSS of the nodes together and, when there are several,
// of each node, all from the one sample s.
func (u usage) setRSS(r *Result, s usageSample) {
	r.set("server_rss_mb", float64(s.server.rssKB)/1024)
	if len(u.pids) > 1 {
		for i, p := range s.nodes {
			r.set("node"+strconv.Itoa(i+1)+"_rss_mb", float64(p.rssKB)/1024)
		}
	}
}

// sampleProc samples a process; one that cannot be read counts as idle
// and empty rather than failing the run.
func sampleProc(pid int) procSample {
	s, err := readProc(pid)
	if err != nil {
		return procSample{at: time.Now()}
	}
	return s
}

// setProcUsage records a process's CPU between two samples, in percent of
// one core, and its RSS at the second, under prefix.
func setProcUsage(r *Result, prefix string, from, to procSample) {
	if wall := to.at.Sub(from.at); wall > 0 {
		r.set(prefix+"_cpu_pct", 100*float64(to.cpu-from.cpu)/float64(wall))
	}
	r.set(prefix+"_rss_mb", float64(to.rssKB)/1024)
}

// server is a ctibus process started for one run.
type server struct {
	cmd  *exec.Cmd
	addr string
	pid  int
	dir  string
	logs *bytes.Buffer
}

// spawn starts opts.spawn on a free loopback port with an agents file for
// the scenario, limits that let the load through, and warnings-only logs,
// and waits until it is ready.
func spawn(ctx context.Context, opts options, log io.Writer) (*server, error) {
	dir, err := os.MkdirTemp("", "ctibench-")
	if err != nil {
		return nil, err
	}
	agents := filepath.Join(dir, "agents.json")
	if err := writeAgentsFile(agents, opts.agentsNeeded(), opts.cost()); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := []string{
		"-addr", addr, "-agents", agents, "-log-level", "warn",
		"-max-connections", "1000000", "-rate-limit", "1000000", "-rate-burst", "1000000",
		"-rate-limit-bytes", "1e12", "-rate-burst-bytes", "1000000000000",
		"-max-connections-per-ip", "0", "-login-attempts-per-ip", "0",
		"-grace-period", "10m", "-drain-timeout", "2s",
		// The login scenario queues every sign-in at once, many seconds of
		// bcrypt: it measures the rate, not the bounds on waiting.
		"-password-check-queue", "100000", "-password-check-wait", "20s",
	}
	args = append(args, strings.Fields(opts.serverArgs)...)
	cmd := exec.Command(opts.spawn, args...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", opts.spawn, err)
	}
	s := &server{cmd: cmd, addr: addr, pid: cmd.Process.Pid, dir: dir, logs: logs}
	if err := waitReady(ctx, addr); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s did not become ready: %w\n%s", opts.spawn, err, logs.String())
	}
	if !opts.quiet {
		fmt.Fprintf(log, "ctibench: started %s (pid %d) on %s\n", opts.spawn, s.pid, addr)
	}
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(s.dir)
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

func waitReady(ctx context.Context, addr string) error {
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer from /readyz: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cpuModel returns the CPU model from /proc/cpuinfo, for the record.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage returns the machine's one-minute load average, or 0.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(first, 64)
	return v
}
