package mcast

import "time"

const (
	controlInterval = 50 * time.Millisecond // rate control and outlier classification
	ackDelay        = 2 * time.Millisecond  // acks wait this long to batch done reports
	// announceEvery data packets an announce goes out even before the announce interval, so a
	// receiver that missed one loses little at high rates.
	announceEvery = 1000
	waitAnnounce  = 50 * time.Millisecond // announce interval while paused
)
