package session_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/internal/testnet"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/session"
)

// fileReceiver is one ReceiveImage into a new file on a namespace host; read its
// outcome after wg.Wait.
type fileReceiver struct {
	path string
	res  session.ReceiveResult
	err  error
}

// receiveFile starts a receiver on h writing a fresh file (a file target: resume on).
func receiveFile(t *testing.T, ctx context.Context, wg *sync.WaitGroup, h *testnet.Host, udp transport.UDPConfig, start time.Duration) *fileReceiver {
	t.Helper()
	fr := &fileReceiver{path: filepath.Join(t.TempDir(), "target")}
	tr := openUDP(t, h, transport.RoleReceiver, udp)
	wg.Go(func() {
		f, err := os.Create(fr.path)
		if err != nil {
			fr.err = err
			return
		}
		defer f.Close()
		fr.res, fr.err = session.ReceiveImage(ctx, f, session.ReceiveConfig{
			Transport: tr, Install: image.InstallConfig{Grow: true}, StartTimeout: start, ReceiveTimeout: 20 * time.Second})
	})
	return fr
}
