package ghaction

import (
	"errors"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
)

func runFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	config.BindRunFlags(fs, &config.Config{})
	return fs
}

// TestEveryInputHasItsFlag: inputFlags holds each input of action.yml
// once; each maps onto a flag of the run command, but for the few the
// action reads itself.
func TestEveryInputHasItsFlag(t *testing.T) {
	a := readActionYAML(t)
	fs := runFlags()
	mapped := map[string]bool{}
	var own []string
	for _, m := range inputFlags {
		assert.False(t, mapped[m.input], "%s is listed twice", m.input)
		mapped[m.input] = true
		_, declared := a.Inputs[m.input]
		assert.True(t, declared, "%s is an input of action.yml", m.input)
		if m.flag == "" {
			own = append(own, m.input)
			continue
		}
		assert.NotNil(t, fs.Lookup(m.flag), "input %s sets --%s, a flag of the run command", m.input, m.flag)
	}
	for name := range a.Inputs {
		assert.True(t, mapped[name], "input %s of action.yml is in inputFlags", name)
	}
	assert.ElementsMatch(t, []string{InputProjectPath, InputKubeconfig, InputPytestArgs, InputToken, InputCheckName, InputFailOn, InputPodTemplate}, own,
		"the inputs with no flag: the project and pytest's arguments are positional on the command line, the kubeconfig and pod template are contents, the rest are the action's")
}

// TestInputsParseAsTheirFlags: an input the flag cannot take fails with
// the flag's own words, under the input's name.
func TestInputsParseAsTheirFlags(t *testing.T) {
	n := 0
	for _, m := range inputFlags {
		if m.flag == "" {
			continue
		}
		f := runFlags().Lookup(m.flag)
		switch f.Value.Type() {
		case "int", "float32", "duration", "bool":
		default:
			continue
		}
		n++
		t.Run(m.input, func(t *testing.T) {
			cliErr := runFlags().Set(m.flag, "x1y")
			require.Error(t, cliErr)
			fix, ok := config.ValueFix(cliErr)
			require.True(t, ok)
			_, _, err := Read(runnerEnv(workspace(t), map[string]string{InputRepository: "r.example/x", m.input: "x1y"}))
			var ce *config.Error
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, &config.Error{Input: m.input, Value: "x1y", Fix: fix}, ce)
			assert.Equal(t, m.input+` "x1y": `+fix, err.Error(), "one error")
		})
	}
	assert.GreaterOrEqual(t, n, 12, "the numbers, durations and switches")
}

// TestInputDefaultsAreTheFlags: action.yml's defaults, as the runner sets
// them, give the Config the flags' defaults give when no input is set.
func TestInputDefaultsAreTheFlags(t *testing.T) {
	ws := workspace(t)
	given, _, err := Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x"}))
	require.NoError(t, err)
	bare, _, err := Read(env(map[string]string{"GITHUB_WORKSPACE": ws, "INPUT_REPOSITORY": "r.example/x"}))
	require.NoError(t, err)
	assert.Equal(t, bare, given)
}
