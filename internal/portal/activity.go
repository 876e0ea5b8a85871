package portal

import "time"

// Event is one entry of the activity log: a write, who made it and how it
// ended.
type Event struct {
	Time                                  time.Time
	Caller, Operation, ResourceID, Status string
	HTTPStatusCode                        int
	CorrelationID                         string
}

// ActivityPage is a page of the activity log, newest first; Next, when
// set, asks for the page after it.
type ActivityPage struct {
	Events []Event
	Next   string
}

// ActivityPageSize is how many events a page of the activity log shows.
const ActivityPageSize = 50
