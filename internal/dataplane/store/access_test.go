package store

import (
	"fmt"
	"testing"
	"time"
)

// TestEventsPageNewestFirst: events come newest first, the same instant in
// the order appended, and paging from a key continues below it.
func TestEventsPageNewestFirst(t *testing.T) {
	st, err := OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	err = st.Update(func(tx Tx) error {
		for i := range 5 {
			at := t0.Add(time.Duration(i/2) * time.Minute) // pairs share an instant
			if err := tx.AppendEvent(&Event{ID: fmt.Sprint(i), Time: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page := func(from time.Time, before []byte, n int) (ids string, last []byte) {
		_ = st.View(func(tx Tx) error {
			return tx.Events(from, before, func(k []byte, e Event) bool {
				if n == 0 {
					return false
				}
				n--
				ids += e.ID
				last = k
				return true
			})
		})
		return ids, last
	}
	ids, last := page(t0, nil, 2)
	if ids != "43" {
		t.Fatalf("first page %q, want 43", ids)
	}
	if ids, _ = page(t0, last, 10); ids != "210" {
		t.Fatalf("second page %q, want 210", ids)
	}
	if ids, _ = page(t0.Add(time.Minute), nil, 10); ids != "432" {
		t.Fatalf("from t0+1m: %q, want 432", ids)
	}
	var pruned int
	_ = st.Update(func(tx Tx) (err error) { pruned, err = tx.PruneEvents(t0.Add(time.Minute)); return err })
	if ids, _ = page(t0, nil, 10); pruned != 2 || ids != "432" {
		t.Fatalf("after pruning %d: %q", pruned, ids)
	}
}
