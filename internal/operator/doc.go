// Package operator reconciles the TestRun and TestCase resources of
// api/v1alpha1 with one controller-runtime manager.
//
// The decisions are plan.Next's, the same pure function direct mode drives,
// evaluated over state kept in the cluster: the pods of a run and the
// attempts recorded in each TestCase's status. Two reconcilers share the
// work, each carrying out the actions in its own scope:
//
//   - The TestRun reconciler discovers the tests (a one-off pod, or the ids
//     the spec lists), creates one TestCase per test, and evaluates plan.Next
//     over the whole run to create pods, since only the run sees its
//     parallelism. It aggregates the TestCases into the run's summary, stores
//     the merged JUnit report, and deletes finished runs past their TTL.
//   - The TestCase reconciler evaluates plan.Next over its own test to
//     collect a finished pod (its collector's log, as direct mode reads it),
//     record the attempt in its status, and delete the pod, unless a failed
//     test's pod lingers for inspection.
//
// A run with podPer class, file or auto, or with shards, groups its tests with
// plan.Group, and the TestRun reconciler carries out the whole decision for
// the pods of its groups, which it owns: it creates, collects (recording an
// attempt in each TestCase the pod settled) and deletes them. The tests'
// durations, kept in a ConfigMap from one run to the next, order the pods
// and balance the shards (durations.go).
//
// An attempt is recorded before its pod is deleted, and a pod is created
// only after a fresh read of its TestCase shows the previous attempt
// recorded and this one not, so a restarted operator resumes where the last
// one stopped and never runs a test more often than its attempts allow.
package operator
