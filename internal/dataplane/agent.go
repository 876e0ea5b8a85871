package dataplane

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
)

// authenticateAgent checks the bearer token and that it belongs to the
// cluster in the path. A missing or unknown token is 401; a valid token for
// another cluster is 404, so that one cluster cannot learn about another.
func (s *Server) authenticateAgent(r *http.Request, ref clusterRef) (string, *apiError) {
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return "", &apiError{http.StatusUnauthorized, "AuthenticationFailed", "The request needs the cluster's agent token as 'Authorization: Bearer <token>'."}
	}
	var clusterKey string
	var cluster *store.Cluster
	hash := identity.HashSecret(token)
	err := s.store.View(func(tx store.Tx) (err error) {
		if clusterKey, err = tx.ClusterIDByToken(hash); err != nil {
			return err
		}
		cluster, err = tx.Cluster(clusterKey)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", &apiError{http.StatusUnauthorized, "AuthenticationFailed", "The agent token is not valid: register the cluster again or regenerate its token."}
	}
	if err != nil {
		s.opts.Log.Error(err, "Failed to look up an agent token")
		return "", internalError()
	}
	if clusterKey != store.Key(ref.ID()) {
		return "", &apiError{http.StatusForbidden, "AuthorizationFailed", "The agent token is for another cluster: an agent reads and reports for its own cluster only."}
	}
	if hash != cluster.TokenHash && (cluster.PreviousTokenExpiresAt == nil || !s.opts.Now().Before(*cluster.PreviousTokenExpiresAt)) {
		return "", &apiError{http.StatusUnauthorized, "AuthenticationFailed",
			"The agent token was regenerated and its grace period has ended: give the agent the new token (its --agent-token-file)."}
	}
	switch now := s.opts.Now(); {
	case cluster.AgentConnectedAt == nil:
		s.heartbeat(cluster.ID) // at once: the cluster is Connected from this call
	case cluster.AgentSeenAt == nil || now.Sub(*cluster.AgentSeenAt) >= HeartbeatInterval:
		if _, running := s.beating.LoadOrStore(clusterKey, true); !running {
			go func() { // the call need not wait for it
				defer s.beating.Delete(clusterKey)
				s.heartbeat(cluster.ID)
			}()
		}
	}
	return clusterKey, nil
}

// HeartbeatInterval is how often an agent's calls are noted in its
// cluster's record (lastConnectivityTime): an agent that calls is never
// more than this behind, on every replica.
const HeartbeatInterval = 2 * time.Minute

// heartbeat notes that the cluster's agent called: the first time, the
// cluster is Connected and its Flux extension Succeeded, which policies
// may check; then at most once a HeartbeatInterval.
func (s *Server) heartbeat(clusterID string) {
	now := s.opts.Now().UTC()
	first := false
	// Batched: a fleet's agents all connect at once after a restart, and
	// the write is idempotent, as Batch needs.
	err := s.store.Batch(func(tx store.Tx) error {
		c, err := tx.Cluster(clusterID)
		if err != nil || (c.AgentSeenAt != nil && now.Sub(*c.AgentSeenAt) < HeartbeatInterval) {
			return err // another call (or replica) noted it meanwhile
		}
		first = c.AgentConnectedAt == nil
		if first {
			c.AgentConnectedAt = &now
		}
		c.AgentSeenAt = &now
		return tx.PutCluster(c)
	})
	if err != nil {
		s.opts.Log.Error(err, "Failed to note an agent's call", "cluster", clusterID)
		return
	}
	if first {
		s.policy.enqueue(clusterID, false)
	}
}

// agentList returns the cluster's desired state; with If-None-Match and
// ?wait=, it holds the request until the state changes or wait passes.
func (s *Server) agentList(w http.ResponseWriter, r *http.Request, ref clusterRef) {
	wait := time.Duration(0)
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, &apiError{http.StatusBadRequest, "InvalidParameter", "wait must be a duration such as 30s."})
			return
		}
		wait = min(d, agentapi.MaxWait)
	}
	key := store.Key(ref.ID())
	inm := r.Header.Get("If-None-Match")
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		// Subscribe before reading, so that no change slips between them.
		changed := s.notify.wait(key)
		state, err := s.desiredState(ref)
		if err != nil {
			s.fail(w, err)
			return
		}
		etag := agentapi.ETag(state.Revision)
		if inm != etag {
			w.Header().Set("ETag", etag)
			writeJSON(w, http.StatusOK, state)
			return
		}
		if deadline == nil {
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.metrics.polling.Inc()
		select {
		case <-changed:
			s.metrics.polling.Dec()
		case <-deadline:
			s.metrics.polling.Dec()
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		case <-r.Context().Done():
			s.metrics.polling.Dec()
			return
		}
	}
}

// desiredState is the cluster's desired state. Protected settings that
// cannot be opened (a corrupt record) fail their configuration only: it is
// sent without them, and marked Failed in ARM, while the rest of the
// cluster goes on.
func (s *Server) desiredState(ref clusterRef) (*agentapi.DesiredState, error) {
	state := &agentapi.DesiredState{Configurations: []agentapi.Configuration{}}
	var unreadable []string
	err := s.store.View(func(tx store.Tx) error {
		rev, err := tx.Revision(ref.ID())
		if err != nil {
			return err
		}
		state.Revision = rev
		configs, err := tx.Configs(ref.ID())
		if err != nil {
			return err
		}
		for _, cfg := range configs {
			c := agentapi.Configuration{Name: cfg.Name, Generation: cfg.Generation, Deleting: cfg.Deleting, Properties: cfg.Properties,
				ReconcileRequestedAt: cfg.ReconcileRequestedAt}
			if p := cfg.Protected; p != nil {
				values, err := s.sealer.open(p.Sealed, p.KeyID, store.Key(ref.ID())+"/"+cfg.Name)
				if err != nil {
					if cfg.Error != msgUnreadable {
						s.opts.Log.Error(err, "Failed to open protected settings", "cluster", ref.ID(), "configuration", cfg.Name)
						unreadable = append(unreadable, cfg.Name)
					}
				} else {
					c.ProtectedSettings = &agentapi.ProtectedSettings{Version: p.Version, Values: values}
				}
			}
			state.Configurations = append(state.Configurations, c)
		}
		return nil
	})
	if err == nil && len(unreadable) > 0 {
		err = s.markUnreadable(ref, unreadable)
	}
	return state, err
}

// msgUnreadable is the error of a configuration whose protected settings
// cannot be opened.
const msgUnreadable = "The protected settings of this configuration cannot be decrypted (a corrupt record, or a key that was replaced): apply it again with its protected settings."

// markUnreadable records, once, that the protected settings of names could
// not be opened; they stay sealed (a restored key may open them again).
func (s *Server) markUnreadable(ref clusterRef, names []string) error {
	return s.store.Update(func(tx store.Tx) error {
		for _, name := range names {
			cfg, err := tx.Config(ref.ID(), name)
			if err != nil || cfg.Error == msgUnreadable {
				continue
			}
			cfg.Error = msgUnreadable
			if err := tx.PutConfig(cfg); err != nil {
				return err
			}
		}
		return nil
	})
}

// historyKept is how many compliance changes a configuration keeps.
const historyKept = 20

// historyMessageKept is how much of a report's message a change keeps.
const historyMessageKept = 512

// withCompliance is history with report's compliance state added when it
// differs from the last report's (a configuration without one is Pending),
// keeping the last historyKept.
func withCompliance(history []store.ComplianceChange, last *store.Status, report agentapi.StatusReport, at time.Time) []store.ComplianceChange {
	state := func(s string) string { return cmp.Or(s, string(v1alpha1.CompliancePending)) }
	was := ""
	if last != nil {
		was = last.ComplianceState
	}
	if state(was) == state(report.ComplianceState) {
		return history
	}
	msg := report.ErrorMessage
	if len(msg) > historyMessageKept {
		msg = strings.ToValidUTF8(msg[:historyMessageKept], "") + "…"
	}
	history = append(history, store.ComplianceChange{At: at, State: state(report.ComplianceState), Message: msg})
	return history[max(0, len(history)-historyKept):]
}

// sameReport: the two reports say the same (as JSON, so that times read
// back from the store compare equal).
func sameReport(a, b agentapi.StatusReport) bool {
	x, errX := json.Marshal(a)
	y, errY := json.Marshal(b)
	return errX == nil && errY == nil && bytes.Equal(x, y)
}

func (s *Server) agentStatus(w http.ResponseWriter, r *http.Request, ref clusterRef, name string) {
	raw, e := readBody(r, s.opts.MaxBodyBytes)
	if e != nil {
		writeError(w, e)
		return
	}
	var report agentapi.StatusReport
	if e := decodeStrict(raw, &report); e != nil {
		writeError(w, e)
		return
	}
	if len(report.Statuses) > 0 {
		var list []json.RawMessage
		if err := json.Unmarshal(report.Statuses, &list); err != nil {
			writeError(w, invalidContent("statuses must be an array."))
			return
		}
	}
	// Status reports are the most frequent write (every agent, every
	// change): concurrent ones share a transaction. Setting the status is
	// idempotent, as Batch needs.
	changed := false
	err := s.store.Batch(func(tx store.Tx) error {
		cfg, err := tx.Config(ref.ID(), name)
		if errors.Is(err, store.ErrNotFound) {
			return errAPI{configNotFound(ref, name)}
		}
		if err != nil {
			return err
		}
		changed = cfg.Status == nil || !sameReport(cfg.Status.StatusReport, report)
		cfg.History = withCompliance(cfg.History, cfg.Status, report, s.opts.Now().UTC())
		cfg.Status = &store.Status{StatusReport: report, ReportedAt: s.opts.Now().UTC()}
		return tx.PutConfig(cfg)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	if changed { // a report repeated changes no policy's verdict
		s.policy.enqueue(ref.ID(), false)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) agentAck(w http.ResponseWriter, r *http.Request, ref clusterRef, name string) {
	raw, e := readBody(r, s.opts.MaxBodyBytes)
	if e != nil {
		writeError(w, e)
		return
	}
	var ack agentapi.Ack
	if e := decodeStrict(raw, &ack); e != nil {
		writeError(w, e)
		return
	}
	s.changeDesired(w, ref, func(tx store.Tx) (bool, error) {
		cfg, err := tx.Config(ref.ID(), name)
		if errors.Is(err, store.ErrNotFound) {
			return false, errAPI{configNotFound(ref, name)}
		}
		if err != nil {
			return false, err
		}
		// An older version is already superseded: acknowledging it is a no-op.
		if cfg.Protected == nil || cfg.Protected.Version != ack.Version {
			return false, nil
		}
		cfg.Protected = nil
		return true, tx.PutConfig(cfg)
	})
}

func (s *Server) agentDeleted(w http.ResponseWriter, _ *http.Request, ref clusterRef, name string) {
	s.changeDesired(w, ref, func(tx store.Tx) (bool, error) {
		cfg, err := tx.Config(ref.ID(), name)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // already gone: confirming twice is fine
		}
		if err != nil {
			return false, err
		}
		if !cfg.Deleting {
			return false, errAPI{&apiError{http.StatusConflict, "Conflict", "The configuration is not being deleted."}}
		}
		return true, tx.DeleteConfig(ref.ID(), name)
	})
}

// changeDesired runs fn in a transaction; when it changed the cluster's
// desired state, the revision is bumped in the same transaction and long
// polls are woken. It answers 204 or the error.
func (s *Server) changeDesired(w http.ResponseWriter, ref clusterRef, fn func(tx store.Tx) (bool, error)) {
	if err := s.updateDesired(ref, fn); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// updateDesired is changeDesired's transaction, for handlers that answer
// otherwise.
func (s *Server) updateDesired(ref clusterRef, fn func(tx store.Tx) (bool, error)) error {
	changed := false
	err := s.store.Update(func(tx store.Tx) error {
		var err error
		if changed, err = fn(tx); err != nil || !changed {
			return err
		}
		_, err = tx.BumpRevision(ref.ID())
		return err
	})
	if err == nil && changed {
		s.notify.changed(store.Key(ref.ID()))
		s.policy.enqueue(ref.ID(), false)
	}
	return err
}
