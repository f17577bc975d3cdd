package cli

import (
	"testing"
	"time"
)

func TestParseBitrate(t *testing.T) {
	for in, want := range map[string]int64{"500m": 62_500_000, "900k": 112_500, "8": 1, "1.5g": 187_500_000, "80M": 10_000_000} {
		got, err := ParseBitrate(in)
		if err != nil || got != want {
			t.Errorf("ParseBitrate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "-5m", "1"} {
		if _, err := ParseBitrate(in); err == nil {
			t.Errorf("ParseBitrate(%q) accepted", in)
		}
	}
}

func TestParseSizeAndSeconds(t *testing.T) {
	if v, err := ParseSize("4m"); err != nil || v != 4<<20 {
		t.Errorf("ParseSize(4m) = %d, %v", v, err)
	}
	if d, err := Seconds("1.5"); err != nil || d != 1500*time.Millisecond {
		t.Errorf("Seconds(1.5) = %v, %v", d, err)
	}
	if d, err := Seconds("2m"); err != nil || d != 2*time.Minute {
		t.Errorf("Seconds(2m) = %v, %v", d, err)
	}
	if _, err := Seconds("soon"); err == nil {
		t.Error("Seconds(soon) accepted")
	}
}
