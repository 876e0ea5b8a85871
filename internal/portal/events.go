package portal

import (
	"net/http"
	"time"
)

// EventInterval is the least time between two events of a stream: a fleet
// whose agents report many times a second updates an open page once a
// second.
var EventInterval = time.Second

// KeepAlive is how often a quiet stream sends a comment, so that proxies
// and the browser keep it open.
var KeepAlive = 25 * time.Second

// events streams server-sent events to an open page of a signed-in
// browser: "fleet" when the fleet changed, with no data (the page then
// reads itself again, as its principal may read it). Without a session it
// answers 401, which ends the browser's stream.
func (p *Portal) events(w http.ResponseWriter, r *http.Request) {
	_, s := p.sessionOf(r)
	if s == nil {
		http.Error(w, "Sign in to the portal first.", http.StatusUnauthorized)
		return
	}
	rc := http.NewResponseController(w)
	// The server's read and write timeouts are for requests; a stream
	// lasts as long as its page is open, or its session.
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(text string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(KeepAlive + 10*time.Second))
		if _, err := w.Write([]byte(text)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 5000\n\n") {
		return
	}
	keepAlive := time.NewTicker(KeepAlive)
	defer keepAlive.Stop()
	changed := p.opts.Backend.Changes()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			if !send(": keep-alive\n\n") {
				return
			}
		case <-changed:
			// The next change's channel, taken before the pause: a change
			// during it is sent after it.
			changed = p.opts.Backend.Changes()
			if _, still := p.sessionOf(r); still != s {
				return // signed out, or ended: the page's next read signs in
			}
			if !send("event: fleet\ndata: changed\n\n") {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(EventInterval):
			}
		}
	}
}
