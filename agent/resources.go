package agent

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/resources"
)

// agentInfo builds the AgentInfo the agent registers with: hostname,
// port, --resources (with detected defaults) and --attributes.
func agentInfo(cfg Config) (*mesos.AgentInfo, error) {
	rs, err := resources.AgentResources(cfg.Resources, cfg.WorkDir, cfg.DefaultRole)
	if err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	attrs, err := resources.ParseAttributes(cfg.Attributes)
	if err != nil {
		return nil, fmt.Errorf("--attributes: %w", err)
	}
	info := &mesos.AgentInfo{
		Hostname: proto.String(cfg.Hostname),
		Port:     proto.Int32(int32(cfg.Port)),
	}
	info.Resources = resources.ToProto(rs, resources.FormatPostRefinement)
	info.Attributes = resources.AttributesToProto(attrs)
	return info, nil
}
