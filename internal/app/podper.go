package app

import (
	"fmt"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// podOverhead is the mean time the run's pods spent outside their tests:
// waiting to be scheduled, starting, and collecting; 0 with no pod.
func podOverhead(rep *report.Report) time.Duration {
	pods := map[string]bool{}
	for _, cr := range rep.Cases {
		for _, a := range cr.Attempts {
			if a.Pod != "" {
				pods[a.Pod] = true
			}
		}
	}
	if len(pods) == 0 {
		return 0
	}
	ph := podPhases(rep)
	return (ph.Waiting + ph.Starting + ph.Collecting) / time.Duration(len(pods))
}

// loadOverhead reads the per-pod overhead the history store's newest
// records hold, else the durations file's, which sets --pod-per auto's
// threshold; 0 when neither holds one.
func (p *pipeline) loadOverhead() (time.Duration, error) {
	if p.cfg.History != "" {
		d, err := history.Store{Dir: p.cfg.History}.Overhead()
		if err != nil {
			return 0, historyError(p.cfg, err)
		}
		if d > 0 {
			return d, nil
		}
	}
	if p.cfg.DurationsFile == "" {
		return 0, nil
	}
	d, err := history.Overhead(p.cfg.DurationsFile)
	if err != nil {
		return 0, &config.Error{Input: "durations file", Value: p.cfg.DurationsFile, Fix: err.Error()}
	}
	return d, nil
}

// saveOverhead records this run's per-pod overhead in the durations file.
func (p *pipeline) saveOverhead(rep *report.Report) error {
	d := podOverhead(rep)
	if p.cfg.DurationsFile == "" || d <= 0 {
		return nil
	}
	if err := history.SetOverhead(p.cfg.DurationsFile, d); err != nil {
		return fmt.Errorf("%w (--durations-file)", err)
	}
	return nil
}
