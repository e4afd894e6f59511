package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadUsageExitsTwo(t *testing.T) {
	for _, args := range [][]string{nil, {"start"}, {"forward", ":1"}, {"up", "extra"}, {"up", "--nope"}} {
		var stderr bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), args, io.Discard, &stderr), "%v", args)
		assert.NotEmpty(t, stderr.String(), "%v says what is wrong", args)
	}
}

func TestForwardRelays(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := free.Addr().String()
	free.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- forward(ctx, addr, echo.Addr().String(), slog.New(slog.DiscardHandler)) }()
	var c net.Conn
	require.Eventually(t, func() bool { c, err = net.Dial("tcp", addr); return err == nil }, 5*time.Second, 20*time.Millisecond)
	_, err = c.Write([]byte("hello\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "hello\n", line)
	c.Close()
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err, "forward ends without error when its context does")
	case <-time.After(5 * time.Second):
		t.Fatal("forward did not end with its context")
	}
}
