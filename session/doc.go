// Package session carries a Discus image (package image) over the multicast protocol
// (package mcast) on a transport (package mcast/transport): Send serves an image to
// every receiver that joins, ReceiveImage installs the image a sender carries onto a
// target.
//
//	img, _ := image.OpenFile("lab.dsc")
//	src, _ := session.NewImageSource(img)
//	res, err := session.Send(ctx, src, session.SendConfig{
//		Sender: mcast.SenderConfig{SessionID: img.Header().ID}, MinReceivers: 30})
//
//	res, err := session.ReceiveImage(ctx, disk, session.ReceiveConfig{})
//
// The sources (ImageSource for an image file, CreatingSource for a disk or a stream
// chunked while it is sent) put the image's manifest after its chunks as lead chunks,
// fetched first; a receiver checks every chunk against the manifest (and, with Trust,
// the header against a signer's key) before anything reaches the target or the
// ChunkSink. Session policy lives here: when to start (MinReceivers, MinWait, MaxWait,
// StartTimeout), when a receiver or the sender is lost, how long to linger; its errors
// (ErrStartTimeout, ErrNoReceivers, ErrReceiversLost, ErrSenderLost) map to the
// commands' exit codes.
package session
