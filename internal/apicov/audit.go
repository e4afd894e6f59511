package apicov

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxLine bounds one audit event's line. At Metadata level an event is a
// few kilobytes; a longer line is skipped whole and counted, so that no
// line, however long, grows the reader's memory.
const MaxLine = 1 << 20

// Event is what is read of one audit event: only the fields API coverage
// needs are decoded.
type Event struct {
	AuditID    string
	Stage      string
	Verb       string
	RequestURI string
	Username   string
	// PodName and PodUID are the pod a bound service-account token was
	// issued for; empty for any other credential.
	PodName, PodUID string
	Code            int
	Received        time.Time
}

// rawEvent mirrors the audit.k8s.io/v1 Event's JSON for the fields read.
type rawEvent struct {
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
		Extra    struct {
			PodName []string `json:"authentication.kubernetes.io/pod-name"`
			PodUID  []string `json:"authentication.kubernetes.io/pod-uid"`
		} `json:"extra"`
	} `json:"user"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
}

// podMarker is in every event made with a pod-bound token; a line without
// it is skipped without decoding.
var podMarker = []byte(`"authentication.kubernetes.io/pod-name"`)

// ReadStats counts what a read saw.
type ReadStats struct {
	Lines int64 `json:"lines"`
	Bytes int64 `json:"bytes"`
	// Skipped counts lines without a pod's credential, or that keep
	// refused.
	Skipped int64 `json:"skipped"`
	// TooLong counts lines over MaxLine, Malformed lines that are not an
	// audit event's JSON.
	TooLong   int64 `json:"tooLong,omitempty"`
	Malformed int64 `json:"malformed,omitempty"`
}

// ReadEvents streams JSON-lines audit events from r and calls fn with each
// event made with a pod-bound service-account token. keep, if not nil,
// sees the raw line first and may refuse it cheaply (it must not keep the
// slice). Memory stays bounded by MaxLine whatever r holds.
func ReadEvents(r io.Reader, keep func(line []byte) bool, fn func(Event)) (ReadStats, error) {
	var st ReadStats
	br := bufio.NewReaderSize(r, MaxLine)
	for {
		line, err := br.ReadSlice('\n')
		st.Bytes += int64(len(line))
		if errors.Is(err, bufio.ErrBufferFull) {
			st.Lines++
			st.TooLong++
			// Drop the rest of the line.
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				st.Bytes += int64(len(line))
			}
			if err == io.EOF {
				return st, nil
			}
			if err != nil {
				return st, fmt.Errorf("reading audit events: %w", err)
			}
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 {
			st.Lines++
			if bytes.Contains(line, podMarker) && (keep == nil || keep(line)) {
				var raw rawEvent
				if json.Unmarshal(line, &raw) != nil {
					st.Malformed++
				} else {
					fn(raw.event())
				}
			} else {
				st.Skipped++
			}
		}
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("reading audit events: %w", err)
		}
	}
}

func (raw *rawEvent) event() Event {
	e := Event{
		AuditID: raw.AuditID, Stage: raw.Stage, Verb: raw.Verb, RequestURI: raw.RequestURI,
		Username: raw.User.Username, Code: raw.ResponseStatus.Code, Received: raw.RequestReceivedTimestamp,
	}
	if len(raw.User.Extra.PodName) == 1 {
		e.PodName = raw.User.Extra.PodName[0]
	}
	if len(raw.User.Extra.PodUID) == 1 {
		e.PodUID = raw.User.Extra.PodUID[0]
	}
	return e
}
