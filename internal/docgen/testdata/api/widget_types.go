package api

// WidgetSpec is what a widget must do.
type WidgetSpec struct {
	// Size is how big it is.
	// +kubebuilder:default=4
	// +kubebuilder:validation:Minimum=1
	// +optional
	Size int32 `json:"size,omitempty"`

	// Name names it.
	// +required
	Name string `json:"name"`

	Hidden string `json:"-"`
}

// Phase is where a widget stands.
type Phase string

// The phases of a widget.
const (
	PhaseNew  Phase = "New"
	PhaseDone Phase = "Done"
)
