package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"

	"go.uber.org/zap"
)

// servePprof serves Go's profiling endpoints under /debug/pprof/ on addr,
// on a listener of their own, until the returned stop is called. They
// show the program's internals and a profile costs CPU while it runs, so
// -pprof-addr is off unless set and belongs on loopback or a management
// network; anything else is warned about.
func servePprof(addr string, log *zap.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof-addr: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: maxHeaderBytes}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server", zap.Error(err))
		}
	}()
	at := ln.Addr().String()
	log.Info("profiling endpoints", zap.String("url", "http://"+at+"/debug/pprof/"))
	if ap, err := netip.ParseAddrPort(at); err != nil || !ap.Addr().Unmap().IsLoopback() {
		log.Warn("-pprof-addr is not a loopback address: anyone who reaches it can read the program's internals and load its CPU", zap.String("addr", at))
	}
	return func() {
		_ = srv.Shutdown(context.Background()) // a profile being taken ends with the process
		<-done
	}, nil
}
