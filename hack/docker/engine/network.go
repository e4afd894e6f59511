package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
)

// networkBridge matches the bridges dockerd makes for user-defined
// networks: br- and the network id's first 12 hex digits.
var networkBridge = regexp.MustCompile(`^br-[0-9a-f]{12}$`)

// ensureBridge creates the default bridge with its address, or leaves the
// one there is.
func ensureBridge(ctx context.Context) error {
	if err := exec.CommandContext(ctx, "ip", "link", "show", Bridge).Run(); err == nil {
		return nil
	}
	for _, args := range [][]string{
		{"link", "add", Bridge, "type", "bridge"},
		{"addr", "add", BridgeAddr.String(), "dev", Bridge},
		{"link", "set", Bridge, "up"},
	} {
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// Links are the engine's links: its default bridge, the bridges of its
// networks and the veths plugged into either.
func Links(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ip", "-o", "link", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip link show: %w", err)
	}
	var links []string
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(fields[1], ":"), "@")
		master := ""
		for i, f := range fields {
			if f == "master" && i+1 < len(fields) {
				master = fields[i+1]
			}
		}
		if ours(name) || ours(master) {
			links = append(links, name)
		}
	}
	return links, nil
}

func ours(link string) bool { return link == Bridge || networkBridge.MatchString(link) }

// removeLinks deletes the engine's links, veths first.
func removeLinks(ctx context.Context) error {
	links, err := Links(ctx)
	if err != nil {
		return err
	}
	// Bridges last: deleting a veth first is what leaves no port behind.
	for _, pass := range []bool{false, true} {
		for _, l := range links {
			if ours(l) != pass {
				continue
			}
			if out, err := exec.CommandContext(ctx, "ip", "link", "delete", l).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
				return fmt.Errorf("ip link delete %s: %w: %s", l, err, out)
			}
		}
	}
	return nil
}

// rule is one line of iptables-save that belongs to the engine.
type rule struct {
	table string
	// chain is set for a chain of the engine's own (":DOCKER ..."), spec
	// for a rule ("-A FORWARD ...").
	chain, spec string
}

func (r rule) String() string {
	if r.chain != "" {
		return r.table + ": chain " + r.chain
	}
	return r.table + ": " + r.spec
}

// Rules lists the engine's iptables chains and rules as strings.
func Rules(ctx context.Context) ([]string, error) {
	rs, err := rules(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out, nil
}

func rules(ctx context.Context) ([]rule, error) {
	if _, err := exec.LookPath("iptables-save"); err != nil {
		return nil, nil
	}
	out, err := exec.CommandContext(ctx, "iptables-save").Output()
	if err != nil {
		return nil, fmt.Errorf("iptables-save: %w", err)
	}
	return parseRules(out), nil
}

func parseRules(save []byte) []rule {
	var rs []rule
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(save))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, ":DOCKER"):
			rs = append(rs, rule{table: table, chain: strings.Fields(line[1:])[0]})
		case strings.HasPrefix(line, "-A ") && ruleIsOurs(line):
			rs = append(rs, rule{table: table, spec: strings.TrimPrefix(line, "-A ")})
		}
	}
	return rs
}

func ruleIsOurs(line string) bool {
	if strings.Contains(line, "DOCKER") || strings.Contains(line, Bridge) || strings.Contains(line, " br-") {
		return true
	}
	for _, tok := range strings.Fields(line) {
		p, err := netip.ParsePrefix(tok)
		if err != nil {
			if a, err := netip.ParseAddr(tok); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				continue
			}
		}
		if p.Bits() > 0 && (Pool.Overlaps(p) && p.Bits() >= Pool.Bits() || BridgeAddr.Masked().Overlaps(p) && p.Bits() >= BridgeAddr.Bits()) {
			return true
		}
	}
	return false
}

// removeRules deletes the engine's rules, then flushes and deletes its
// chains, which nothing jumps to any more.
func removeRules(ctx context.Context) error {
	rs, err := rules(ctx)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.chain != "" || strings.HasPrefix(r.spec, "DOCKER") {
			continue // goes with its chain
		}
		args := append([]string{"-t", r.table, "-D"}, strings.Fields(r.spec)...)
		if out, err := exec.CommandContext(ctx, "iptables", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, op := range []string{"-F", "-X"} {
		for _, r := range rs {
			if r.chain == "" {
				continue
			}
			if out, err := exec.CommandContext(ctx, "iptables", "-t", r.table, op, r.chain).CombinedOutput(); err != nil {
				return fmt.Errorf("iptables -t %s %s %s: %w: %s", r.table, op, r.chain, err, out)
			}
		}
	}
	return nil
}
