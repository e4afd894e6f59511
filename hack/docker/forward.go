package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
)

// forward relays every connection to listen on to target until ctx ends.
// The action tests run it in helper containers that stand for kind's
// control-plane node and registry on a Docker network.
func forward(ctx context.Context, listen, target string, log *slog.Logger) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	go func() { <-ctx.Done(); l.Close() }()
	log.Info("forwarding", "listen", l.Addr().String(), "target", target)
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accepting on %s: %w", listen, err)
		}
		go relay(c, target, log)
	}
}

func relay(c net.Conn, target string, log *slog.Logger) {
	defer c.Close()
	t, err := net.Dial("tcp", target)
	if err != nil {
		log.Warn("dialing target", "target", target, "err", err)
		return
	}
	defer t.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	go pipe(t, c)
	go pipe(c, t)
	wg.Wait()
}
