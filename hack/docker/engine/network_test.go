package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseRules(t *testing.T) {
	save := `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
:KUBE-X - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o ktr-docker0 -j DOCKER
-A FORWARD -i br-0123456789ab ! -o br-0123456789ab -j ACCEPT
-A FORWARD -s 10.88.0.0/16 -j ACCEPT
-A DOCKER-USER -j RETURN
COMMIT
*nat
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 172.30.3.0/24 ! -o br-0123456789ab -j MASQUERADE
-A POSTROUTING -s 172.31.254.0/24 -j MASQUERADE
-A POSTROUTING -s 10.88.0.0/16 -j MASQUERADE
-A POSTROUTING -s 172.16.0.0/12 -j MASQUERADE
COMMIT
`
	var got []string
	for _, r := range parseRules([]byte(save)) {
		got = append(got, r.String())
	}
	assert.Equal(t, []string{
		"filter: chain DOCKER",
		"filter: chain DOCKER-USER",
		"filter: FORWARD -j DOCKER-USER",
		"filter: FORWARD -o ktr-docker0 -j DOCKER",
		"filter: FORWARD -i br-0123456789ab ! -o br-0123456789ab -j ACCEPT",
		"filter: DOCKER-USER -j RETURN",
		"nat: POSTROUTING -s 172.30.3.0/24 ! -o br-0123456789ab -j MASQUERADE",
		"nat: POSTROUTING -s 172.31.254.0/24 -j MASQUERADE",
	}, got, "the cluster's rules (10.88.0.0/16) and wider ranges than the engine's are not its own")
}

func TestOurs(t *testing.T) {
	assert.True(t, ours("ktr-docker0"))
	assert.True(t, ours("br-0123456789ab"))
	assert.False(t, ours("br-lan"))
	assert.False(t, ours("ktr-ktr"))
	assert.False(t, ours(""))
}
