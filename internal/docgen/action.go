package docgen

import (
	"bytes"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ActionInput is one input of action.yml.
type ActionInput struct {
	Name, Description, Default string
	Required                   bool
}

// ActionOutput is one output of action.yml.
type ActionOutput struct{ Name, Description string }

// ActionSpec is what action.yml declares, in the file's order.
type ActionSpec struct {
	Name, Description string
	Inputs            []ActionInput
	Outputs           []ActionOutput
}

// ParseAction reads action.yml, keeping the order of inputs and outputs.
func ParseAction(actionYAML []byte) (ActionSpec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(actionYAML, &doc); err != nil {
		return ActionSpec{}, fmt.Errorf("action.yml: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return ActionSpec{}, fmt.Errorf("action.yml: not a mapping")
	}
	var spec ActionSpec
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		switch key {
		case "name":
			spec.Name = val.Value
		case "description":
			spec.Description = val.Value
		case "inputs":
			for j := 0; j+1 < len(val.Content); j += 2 {
				var in struct {
					Description string `yaml:"description"`
					Default     string `yaml:"default"`
					Required    bool   `yaml:"required"`
				}
				if err := val.Content[j+1].Decode(&in); err != nil {
					return ActionSpec{}, fmt.Errorf("action.yml: input %s: %w", val.Content[j].Value, err)
				}
				spec.Inputs = append(spec.Inputs, ActionInput{val.Content[j].Value, in.Description, in.Default, in.Required})
			}
		case "outputs":
			for j := 0; j+1 < len(val.Content); j += 2 {
				var out struct {
					Description string `yaml:"description"`
				}
				if err := val.Content[j+1].Decode(&out); err != nil {
					return ActionSpec{}, fmt.Errorf("action.yml: output %s: %w", val.Content[j].Value, err)
				}
				spec.Outputs = append(spec.Outputs, ActionOutput{val.Content[j].Value, out.Description})
			}
		}
	}
	if len(spec.Inputs) == 0 {
		return ActionSpec{}, fmt.Errorf("action.yml: no inputs")
	}
	return spec, nil
}

// Action renders the action's inputs and outputs from action.yml.
func Action(actionYAML []byte) ([]byte, error) {
	spec, err := ParseAction(actionYAML)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(Generated)
	fmt.Fprintf(&b, "\n# The GitHub Action: inputs and outputs\n\n")
	fmt.Fprintf(&b, "%s\n\n", spec.Description)
	b.WriteString("`uses: k8s-testrun/k8s-testrun@v1`, with the inputs under `with:`. The\n")
	b.WriteString("guide (the quick start on kind, a remote cluster, the action's image) is\n")
	b.WriteString("[github-action.md](github-action.md); what it reports,\n")
	b.WriteString("[reports.md](reports.md).\n")
	fmt.Fprintf(&b, "\n## Inputs\n\n%d inputs, all optional unless marked required.\n\n", len(spec.Inputs))
	for _, in := range spec.Inputs {
		line := "- `" + in.Name + "`"
		if in.Required {
			line += " (required)"
		}
		if in.Default != "" {
			line += " (default `" + in.Default + "`)"
		}
		fmt.Fprintf(&b, "%s: %s\n", line, oneLine(in.Description))
	}
	fmt.Fprintf(&b, "\n## Outputs\n\n")
	for _, out := range spec.Outputs {
		fmt.Fprintf(&b, "- `%s`: %s\n", out.Name, oneLine(out.Description))
	}
	return b.Bytes(), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
