package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	masterpb "github.com/mezzo-project/mezzo/api/v1/master"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
)

func teardownCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "teardown FRAMEWORK",
		Short: "tear a framework down: kill all its tasks and forget it (operator TEARDOWN)",
		Long: "Tear a framework down with the operator API's TEARDOWN: the master kills all its tasks and\n" +
			"removes it. FRAMEWORK is its id, a unique prefix of it, or its name.",
		Args:              exactArgs(1, "one framework id (or a unique prefix of it, or its name)"),
		ValidArgsFunction: o.completeFrameworks,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cl, err := o.loadCluster()
			if err != nil {
				return err
			}
			// Only frameworks that are still there can be torn down.
			for _, f := range cl.state.GetGetFrameworks().GetCompletedFrameworks() {
				delete(cl.frameworks, f.GetFrameworkInfo().GetId().GetValue())
			}
			id, err := cl.findFramework(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := o.request()
			defer cancel()
			if _, err := c.call(ctx, &masterpb.Call{
				Type:     masterpb.Call_TEARDOWN.Enum(),
				Teardown: &masterpb.Call_Teardown{FrameworkId: &mesos.FrameworkID{Value: proto.String(id)}},
			}); err != nil {
				return err
			}
			if !o.json {
				fmt.Fprintf(o.stdout, "tore down framework %s (%s)\n", id, cl.frameworkName(id))
			}
			return nil
		},
	}
}
