package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"
)

func TestPhases(t *testing.T) {
	data, _ := os.ReadFile("/tmp/text200.txt")
	db, err := Open(Options{Path: t.TempDir() + "/calm.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Now()
	w, _ := NewCaptureWriter(db, "", NewCapture{Title: "x", Source: "tee"})
	for i := 0; i < len(data); i += 1 << 20 {
		w.Write(data[i:min(i+1<<20, len(data))])
	}
	w.flushChunk()
	t1 := time.Now()
	w.waitFor(w.next)
	t2 := time.Now()
	sum := sha256.Sum256(data)
	t3 := time.Now()
	_, err = db.SealCapture(w.Capture.Incident, w.Capture.ID, Seal{Chunks: w.next, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	t4 := time.Now()
	t.Logf("write %v commit-wait %v sha %v seal %v err %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), err)
}
