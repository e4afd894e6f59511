package attempt

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// Timeline is when one pod passed each step of its life, as the API server
// and this process saw it; a zero time was not seen. The API server's times
// have whole seconds; the test's start and exit come from the shim, in
// nanoseconds, when it recorded them.
type Timeline struct {
	// Created is when the create call returned.
	Created time.Time
	// Scheduled is the PodScheduled condition's time.
	Scheduled time.Time
	// SandboxReady is the PodReadyToStartContainers condition's time: the
	// pod's network and volumes were ready.
	SandboxReady time.Time
	// CollectorStarted is when the collector container started.
	CollectorStarted time.Time
	// TestStarted and TestExited are the test process's start and exit.
	TestStarted, TestExited time.Time
	// Seen is when this process first saw the attempt end.
	Seen time.Time
	// Collected is when its results were read.
	Collected time.Time
	// Deleted is when the delete call returned.
	Deleted time.Time
}

// FromPod fills in what the pod's status and the shim's times tell.
func (t *Timeline) FromPod(p *corev1.Pod, res Results) {
	for _, c := range p.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled:
			if c.Status == corev1.ConditionTrue {
				t.Scheduled = c.LastTransitionTime.Time
			}
		case corev1.PodReadyToStartContainers:
			if c.Status == corev1.ConditionTrue {
				t.SandboxReady = c.LastTransitionTime.Time
			}
		}
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		var started, finished time.Time
		switch {
		case cs.State.Running != nil:
			started = cs.State.Running.StartedAt.Time
		case cs.State.Terminated != nil:
			started, finished = cs.State.Terminated.StartedAt.Time, cs.State.Terminated.FinishedAt.Time
		}
		switch cs.Name {
		case k8s.CollectorContainer:
			t.CollectorStarted = started
		case k8s.TestContainer:
			t.TestStarted, t.TestExited = started, finished
		}
	}
	if !res.TestStart.IsZero() {
		t.TestStarted, t.TestExited = res.TestStart, res.TestExit
	}
}

// Phases splits a pod's life into what a person asks of it: waiting to be
// scheduled and started, starting the containers, running the test, and
// collecting and removing it. A phase whose ends were not seen is zero.
type Phases struct {
	Pending, Starting, Testing, Collecting time.Duration
}

// Phases of the timeline.
func (t Timeline) Phases() Phases {
	span := func(from, to time.Time) time.Duration {
		if from.IsZero() || to.IsZero() || to.Before(from) {
			return 0
		}
		return to.Sub(from)
	}
	end := t.Deleted
	if end.IsZero() {
		end = t.Collected
	}
	return Phases{
		Pending:    span(t.Created, t.Scheduled),
		Starting:   span(later(t.Created, t.Scheduled), t.TestStarted),
		Testing:    span(t.TestStarted, t.TestExited),
		Collecting: span(t.TestExited, end),
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
