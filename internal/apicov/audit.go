package apicov

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/valyala/fastjson"
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

// podMarker is in every event made with a pod-bound token; a line without
// it is skipped without decoding.
var podMarker = []byte(`"authentication.kubernetes.io/pod-name"`)

// ReadStats counts what a read saw.
type ReadStats struct {
	Lines int64 `json:"lines"`
	Bytes int64 `json:"bytes"`
	// Ignored counts lines without a pod's credential, or that keep
	// refused.
	Ignored int64 `json:"ignored"`
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
	var p fastjson.Parser
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
				if e, err := decodeEvent(&p, line); err != nil {
					st.Malformed++
				} else {
					fn(e)
				}
			} else {
				st.Ignored++
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

// decodeEvent reads the fields of an audit.k8s.io/v1 Event that API
// coverage needs from one line. fastjson parses a line in one pass into
// the parser's reused memory, several times faster than encoding/json's
// validate-then-decode, which the throughput target needs.
func decodeEvent(p *fastjson.Parser, line []byte) (Event, error) {
	v, err := p.ParseBytes(line)
	if err != nil {
		return Event{}, err
	}
	if v.Type() != fastjson.TypeObject {
		return Event{}, errors.New("not an object")
	}
	str := func(keys ...string) string { return string(v.GetStringBytes(keys...)) }
	e := Event{
		AuditID: str("auditID"), Stage: str("stage"), Verb: str("verb"), RequestURI: str("requestURI"),
		Username: str("user", "username"), Code: v.GetInt("responseStatus", "code"),
	}
	one := func(key string) string {
		a := v.GetArray("user", "extra", key)
		if len(a) != 1 {
			return ""
		}
		return string(a[0].GetStringBytes())
	}
	e.PodName, e.PodUID = one("authentication.kubernetes.io/pod-name"), one("authentication.kubernetes.io/pod-uid")
	if ts := v.GetStringBytes("requestReceivedTimestamp"); len(ts) > 0 {
		if e.Received, err = time.Parse(time.RFC3339Nano, string(ts)); err != nil {
			return Event{}, err
		}
	}
	return e, nil
}
