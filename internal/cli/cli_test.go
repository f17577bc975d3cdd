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
	for in, want := range map[string]int64{"65536": 65536, "64K": 64 << 10, "4m": 4 << 20, "16MiB": 16 << 20, "2g": 2 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1T", "1.5m"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
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
