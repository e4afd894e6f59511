package ghaction

import (
	"strconv"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
)

// readCluster reads the node-loss window and the client's rate limits;
// bad hears each that does not parse.
func readCluster(c *config.Config, in func(string) string, bad func(input, value, fix string)) {
	var err error
	if c.NodeLostAfter, err = duration(in(InputNodeLostAfter)); err != nil {
		bad(InputNodeLostAfter, in(InputNodeLostAfter), "give a duration such as 30s")
	}
	qps, err := strconv.ParseFloat(in(InputKubeAPIQPS), 32)
	if err != nil {
		bad(InputKubeAPIQPS, in(InputKubeAPIQPS), "give a number above 0, e.g. 100")
	}
	c.KubeAPIQPS = float32(qps)
	if c.KubeAPIBurst, err = strconv.Atoi(in(InputKubeAPIBurst)); err != nil {
		bad(InputKubeAPIBurst, in(InputKubeAPIBurst), "give a whole number, 1 or more")
	}
}
