package session_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/session"
)

// Send an image file to every receiver on eth0's default group, starting
// once 30 machines have joined or after five minutes with those there.
func ExampleSend() {
	img, err := image.OpenFile("lab.dsc")
	if err != nil {
		log.Fatal(err)
	}
	defer img.Close()
	src, err := session.NewImageSource(img)
	if err != nil {
		log.Fatal(err)
	}
	res, err := session.Send(context.Background(), src, session.SendConfig{
		Sender:       mcast.SenderConfig{SessionID: img.Header().ID},
		UDP:          transport.UDPConfig{Interface: "eth0"},
		MinReceivers: 30,
		MaxWait:      5 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d receivers in %v\n", len(res.Receivers), res.Elapsed)
}

// Receive whatever image is being sent on eth0 and write it to a disk.
func ExampleReceiveImage() {
	disk, err := os.OpenFile("/dev/sda", os.O_RDWR, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer disk.Close()
	res, err := session.ReceiveImage(context.Background(), disk, session.ReceiveConfig{
		UDP:            transport.UDPConfig{Interface: "eth0"},
		StartTimeout:   10 * time.Minute,
		ReceiveTimeout: time.Minute,
	})
	if err != nil {
		log.Fatal(err) // nothing is reported complete unless every chunk verified
	}
	fmt.Printf("%d chunks in %v\n", res.Stats.ChunksDone, res.Elapsed)
}

// Send a raw disk as it is read: chunks are made (filesystem-aware when the
// caller passes fsmap's ranges in Used) and spooled while they are sent.
func ExampleNewCreatingSource() {
	ctx := context.Background()
	disk, err := image.OpenSource("/dev/sda")
	if err != nil {
		log.Fatal(err)
	}
	defer disk.Close()
	spool, err := os.CreateTemp("", "spool")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(spool.Name())
	src, err := session.NewCreatingSource(ctx, disk, image.CreateConfig{}, spool)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := session.Send(ctx, src, session.SendConfig{Sender: mcast.SenderConfig{SessionID: src.Header().ID}}); err != nil {
		log.Fatal(err)
	}
}
